"""Migrations, run by the real `townhall migrate`, build exactly the models' schema from empty."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import POSTGRES_ADMIN
from townhall.storage.db import alembic_config
from townhall.storage.models import Base

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a brand-new, empty database of each kind (a file, or a fresh PG database)."""
    if request.param == "sqlite":
        (tmp_path / "data").mkdir()
        yield f"sqlite+aiosqlite:///{tmp_path / 'data' / 'townhall.db'}"
        return
    name = f"townhall_migrations_{uuid.uuid4().hex[:12]}"
    run_admin(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        run_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_admin(sql: str) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


def townhall(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the command line as an operator would, in its own process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWNHALL_")}
    return subprocess.run(
        [sys.executable, "-m", "townhall", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def migrate(url: str, data_dir: Path) -> str:
    done = townhall("--data-dir", str(data_dir), "--database-url", url, "migrate")
    assert done.returncode == 0, done.stderr
    assert "database is up to date" in done.stdout
    return done.stdout


def _extras(conn: Connection) -> set[str]:
    """Objects the migrations create on purpose outside the models: SQLite's FTS5 search
    tables (each virtual table and its shadow tables) and PostgreSQL expression indexes."""
    names: set[str] = set()
    if conn.dialect.name == "sqlite":
        virtual = conn.execute(
            text("SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%'")
        ).scalars()
        for table in virtual:
            names.add(table)
            names.update(
                conn.execute(
                    text(
                        "SELECT name FROM sqlite_master "
                        "WHERE type = 'table' AND substr(name, 1, length(:p)) = :p"
                    ),
                    {"p": f"{table}_"},
                ).scalars()
            )
    else:
        names.update(
            conn.execute(
                text(
                    "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' "
                    "AND indexdef ~ '\\(.*\\(.*\\)'"
                )
            ).scalars()
        )
    return names


def _differences(conn: Connection) -> list[Any]:
    extras = _extras(conn)

    def include_name(name: str | None, kind: str, parent: Any) -> bool:
        return name not in extras

    context = MigrationContext.configure(
        conn,
        opts={
            "compare_type": True,
            "include_name": include_name,
            "render_as_batch": conn.dialect.name == "sqlite",
        },
    )
    return list(compare_metadata(context, Base.metadata))


@pytest.fixture
async def schema(empty_database: str) -> AsyncIterator[Any]:
    """Runs a function on a connection to the database, in its own engine."""
    engine = create_async_engine(empty_database)

    async def run(fn: Any) -> Any:
        async with engine.begin() as conn:
            return await conn.run_sync(fn)

    yield run
    await engine.dispose()


def _revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


async def test_migrate_builds_the_models_schema_from_empty(
    empty_database: str, schema: Any, tmp_path: Path
) -> None:
    """On an empty database, `townhall migrate` creates exactly what the models describe."""
    assert await schema(_tables) == set()
    migrate(empty_database, tmp_path / "data")
    assert await schema(_differences) == []
    assert set(Base.metadata.tables) <= await schema(_tables)
    assert await schema(_revision) == HEAD


async def test_migrate_is_idempotent(empty_database: str, schema: Any, tmp_path: Path) -> None:
    """Running `townhall migrate` again on an up-to-date database changes nothing."""
    migrate(empty_database, tmp_path / "data")
    before = await schema(_tables)
    migrate(empty_database, tmp_path / "data")
    assert await schema(_tables) == before
    assert await schema(_differences) == []
    assert await schema(_revision) == HEAD


async def test_downgrade_to_base_then_upgrade_again(
    empty_database: str, schema: Any, tmp_path: Path
) -> None:
    """Every migration's downgrade undoes it; upgrading again rebuilds the same schema."""
    migrate(empty_database, tmp_path / "data")

    def downgrade(conn: Connection) -> None:
        command.downgrade(alembic_config(conn), "base")

    await schema(downgrade)
    assert await schema(_tables) <= {"alembic_version"}
    assert await schema(_revision) is None
    migrate(empty_database, tmp_path / "data")
    assert await schema(_differences) == []
    assert await schema(_revision) == HEAD


def test_default_database_is_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    """Without a database URL, `townhall migrate` creates data_dir/townhall.db."""
    data = tmp_path / "fresh"
    done = townhall("--data-dir", str(data), "migrate")
    assert done.returncode == 0, done.stderr
    assert "sqlite" in done.stdout
    assert (data / "townhall.db").is_file()
