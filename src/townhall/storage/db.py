"""Engine setup, transactions and migrations for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from townhall.storage.models import Base

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


class Database:
    """Owns the engine. ``transaction()`` is the only way code touches the database."""

    def __init__(
        self, url: str, *, echo: bool = False, pool: tuple[int, int, float] = (10, 20, 10.0)
    ) -> None:
        """``pool``: PostgreSQL's connections kept open, more opened under load, and how
        long a transaction waits for one (``database_pool_*``)."""
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo}
        if self.dialect == "sqlite":
            if self.url.database and self.url.database != ":memory:":
                _private_sqlite_file(Path(self.url.database))
            kwargs["connect_args"] = {"timeout": 30}
        else:
            size, overflow, timeout = pool
            kwargs.update(
                pool_size=size, max_overflow=overflow, pool_timeout=timeout, pool_pre_ping=True
            )
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time and every transaction here takes the write lock
        # (see _sqlite_begin). Queue them in the event loop rather than in SQLite's busy
        # wait, which gives up after busy_timeout while a busy process is slow to commit.
        self._one_at_a_time = asyncio.Lock() if self.dialect == "sqlite" else None

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits on success, rolls back on any exception.

        Never open a transaction while holding another: on SQLite they are taken in turn.
        Work registered with ``before_commit`` runs at the end of the body, inside the
        transaction; callbacks registered with ``after_commit`` run once it has committed."""
        if self._one_at_a_time is None:
            async with self._sessions() as session:
                async with session.begin():
                    yield session
                    await _run_before_commit(session)
                _run_after_commit(session)
            return
        async with self._one_at_a_time, self._sessions() as session:
            async with session.begin():
                yield session
                await _run_before_commit(session)
            _run_after_commit(session)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def migrate(self) -> None:
        """Bring the schema to the newest migration."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade)

    async def close(self) -> None:
        await self.engine.dispose()


def before_commit(tx: AsyncSession, work: Callable[[], Awaitable[None]]) -> None:
    """Run ``work`` at the end of this transaction's body, inside it (not if the body
    raised): for writes gathered while the transaction ran, such as its outbox rows."""
    tx.info.setdefault("before_commit", []).append(work)


def after_commit(tx: AsyncSession, callback: Callable[[], None]) -> None:
    """Call ``callback`` once this transaction has committed (never after a rollback)."""
    tx.info.setdefault("after_commit", []).append(callback)


async def _run_before_commit(session: AsyncSession) -> None:
    # Work may register more work (or callbacks) while it runs.
    pending: list[Callable[[], Awaitable[None]]] = session.info.get("before_commit", [])
    while pending:
        await pending.pop(0)()


def _run_after_commit(session: AsyncSession) -> None:
    for callback in session.info.pop("after_commit", []):
        try:
            callback()
        except Exception:
            # The transaction is committed: nothing that follows may undo or fail it.
            logger.exception("an after-commit callback failed")


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")
    logger.info("database schema is up to date")


def _private_sqlite_file(path: Path) -> None:
    """Create the database file readable by its owner only, before SQLite opens it (an
    empty file is an empty database), and tighten one made before that rule. SQLite gives
    its -wal and -shm files the mode of the database file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for each in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if each.exists() and each.stat().st_mode & 0o077:
            each.chmod(0o600)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # A deferred transaction that reads and then writes fails at once with "database is
    # locked" when another writer got there first. Taking the write lock at BEGIN makes
    # transactions queue (up to busy_timeout) instead: one process, one writer at a time,
    # which is what the embedded default is for. PostgreSQL is the choice for concurrency.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


__all__ = ["Base", "Database", "after_commit", "alembic_config", "before_commit"]
