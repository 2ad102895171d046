"""``townhall backup`` and ``townhall restore``: the database as a consistent snapshot and
the data directory (uploads, incident audio, the instance secret and keys) in one archive.

The archive is a gzipped tar holding ``townhall-backup.json`` (what it is), the database
(``database.sqlite``, a copy made with SQLite's online backup API, or ``database.sql``, a
plain ``pg_dump``) and ``data/``, every file of the data directory but the SQLite database
itself. The server may keep running during a backup; stop it for a restore.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

from townhall import __version__
from townhall.config import Settings
from townhall.errors import Conflict, InvalidInput, Unavailable
from townhall.files import private_dir
from townhall.instance import PUBLIC_URL_FILE

MANIFEST = "townhall-backup.json"
FORMAT = 1
SQLITE_SNAPSHOT = "database.sqlite"
POSTGRES_DUMP = "database.sql"
DATA = "data"


def _url(settings: Settings) -> URL:
    return make_url(settings.resolved_database_url)


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise InvalidInput("not_a_backup", "An in-memory SQLite database cannot be backed up.")
    return Path(url.database).resolve()


def _skipped(settings: Settings, url: URL) -> set[Path]:
    """Files of the data directory that are not copied: the live SQLite database (it is
    snapshotted instead) and the address the last server recorded."""
    skip = {(settings.data_dir / PUBLIC_URL_FILE).resolve()}
    if url.get_backend_name() == "sqlite":
        db = _sqlite_path(url)
        skip |= {db, *(db.with_name(db.name + end) for end in ("-wal", "-shm", "-journal"))}
    return skip


def _data_files(settings: Settings, url: URL) -> list[Path]:
    root = settings.data_dir
    if not root.is_dir():
        return []
    skip = _skipped(settings, url)
    return sorted(
        p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and p.resolve() not in skip
    )


def _pg_env(url: URL) -> dict[str, str]:
    """libpq's environment for the URL: the password never appears on a command line."""
    env = dict(os.environ)
    for key, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
        ("PGSSLMODE", url.query.get("sslmode") or url.query.get("ssl")),
    ):
        if value is not None:
            env[key] = str(value)
    return env


def _run(args: list[str], url: URL, what: str) -> subprocess.CompletedProcess[bytes]:
    try:
        done = subprocess.run(args, env=_pg_env(url), capture_output=True, check=False)
    except FileNotFoundError:
        raise Unavailable(
            "backup_failed",
            f"{args[0]} is not installed: install the PostgreSQL client (postgresql-client).",
        ) from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        raise Unavailable("backup_failed", f"{what} failed: {message}")
    return done


def _sqlite_revision(path: Path) -> str | None:
    with sqlite3.connect(path) as conn:
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            return None
    return str(row[0]) if row else None


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(datetime.now(UTC).timestamp())
    archive.addfile(info, io.BytesIO(data))


def backup(settings: Settings, target: Path) -> str:
    """Write the archive to ``target`` (created 0600, never overwritten) and say what is in it."""
    url = _url(settings)
    dialect = url.get_backend_name()
    if target.exists():
        raise Conflict("backup_exists", f"{target} exists already; choose a new file name.")
    with tempfile.TemporaryDirectory(prefix="townhall-backup-") as tmp:
        if dialect == "sqlite":
            source = _sqlite_path(url)
            if not source.is_file():
                raise InvalidInput("not_a_backup", f"There is no database at {source}.")
            snapshot = Path(tmp) / SQLITE_SNAPSHOT
            # The online backup API copies a consistent state while the server writes.
            os.close(os.open(snapshot, os.O_WRONLY | os.O_CREAT, 0o600))
            with sqlite3.connect(source) as live, sqlite3.connect(snapshot) as copy:
                live.backup(copy)
            live.close()
            copy.close()
            revision = _sqlite_revision(snapshot)
        else:
            snapshot = Path(tmp) / POSTGRES_DUMP
            # One transaction (a consistent snapshot) by pg_dump's design.
            _run(
                ["pg_dump", "--no-owner", "--no-privileges", "--file", str(snapshot)],
                url,
                "pg_dump",
            )
            snapshot.chmod(0o600)
            revision = None
            for line in snapshot.read_text().splitlines():
                if line.startswith("COPY public.alembic_version"):
                    revision = "?"
                elif revision == "?":
                    revision = line.strip()
                    break
        files = _data_files(settings, url)
        manifest = {
            "format": FORMAT,
            "townhall": __version__,
            "dialect": dialect,
            "schema_revision": revision,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": len(files),
        }
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out, tarfile.open(fileobj=out, mode="w:gz") as archive:
            _add_bytes(archive, MANIFEST, json.dumps(manifest, indent=2).encode())
            archive.add(snapshot, snapshot.name)
            for path in files:
                relative = path.relative_to(settings.data_dir).as_posix()
                archive.add(path, f"{DATA}/{relative}")
    return (
        f"backed up the {dialect} database (schema {revision}) and {len(files)} files "
        f"of {settings.data_dir} to {target}"
    )


def _read_manifest(archive: tarfile.TarFile, source: Path) -> dict[str, Any]:
    try:
        member = archive.extractfile(MANIFEST)
        assert member is not None
        manifest: dict[str, Any] = json.load(member)
    except (KeyError, AssertionError, ValueError):
        raise InvalidInput("not_a_backup", f"{source} is not a Townhall backup.") from None
    if manifest.get("format") != FORMAT:
        raise InvalidInput(
            "not_a_backup", f"{source} is a backup format this version does not read."
        )
    return manifest


async def _postgres_tables(settings: Settings) -> int:
    from sqlalchemy import text

    from townhall.storage.db import Database

    db = Database(settings.resolved_database_url, pool=(1, 0, settings.database_pool_timeout))
    try:
        async with db.engine.connect() as conn:
            count = await conn.scalar(
                text(
                    "SELECT count(*) FROM information_schema.tables "
                    "WHERE table_schema = current_schema()"
                )
            )
    finally:
        await db.close()
    return int(count or 0)


def _sqlite_has_tables(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    with sqlite3.connect(path) as conn:
        found = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
    conn.close()
    return bool(found[0])


def restore(settings: Settings, source: Path, *, force: bool = False) -> str:
    """Restore the archive into this configuration's database and data directory, which
    must be empty unless ``force``: then what is there is replaced."""
    import asyncio

    url = _url(settings)
    dialect = url.get_backend_name()
    try:
        archive = tarfile.open(source, mode="r:gz")
    except (OSError, tarfile.TarError):
        raise InvalidInput("not_a_backup", f"{source} is not a Townhall backup.") from None
    with archive:
        manifest = _read_manifest(archive, source)
        if manifest["dialect"] != dialect:
            raise InvalidInput(
                "not_a_backup",
                f"{source} holds a {manifest['dialect']} database; this configuration uses "
                f"{dialect}. Restore into the same kind of database.",
            )
        files = _data_files(settings, url)
        if dialect == "sqlite":
            database_full = _sqlite_has_tables(_sqlite_path(url))
        else:
            database_full = asyncio.run(_postgres_tables(settings)) > 0
        if (files or database_full) and not force:
            full = [
                what
                for what, is_full in (("the database", database_full), (settings.data_dir, files))
                if is_full
            ]
            verb = "are" if len(full) > 1 else "is"
            raise Conflict(
                "restore_target_not_empty",
                f"{' and '.join(map(str, full))} {verb} not empty; restore into empty ones, or "
                "add --force to replace what is there.",
            )
        with tempfile.TemporaryDirectory(prefix="townhall-restore-") as tmp:
            # The filter refuses absolute names, links and anything outside the directory.
            archive.extractall(tmp, filter="data")
            _restore_database(settings, url, Path(tmp), clear=database_full)
            _restore_files(settings, url, Path(tmp) / DATA, files)
    return (
        f"restored the {dialect} database (schema {manifest['schema_revision']}, backed up "
        f"{manifest['created_at']}) and {manifest['files']} files into {settings.data_dir}"
    )


def _restore_database(settings: Settings, url: URL, tmp: Path, *, clear: bool) -> None:
    if url.get_backend_name() == "sqlite":
        target = _sqlite_path(url)
        private_dir(target.parent)
        for end in ("-wal", "-shm", "-journal"):
            target.with_name(target.name + end).unlink(missing_ok=True)
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o600))
        with sqlite3.connect(tmp / SQLITE_SNAPSHOT) as copy, sqlite3.connect(target) as live:
            copy.backup(live)
        copy.close()
        live.close()
        return
    if clear:
        _run(
            [
                "psql",
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                "-c",
                "DROP SCHEMA public CASCADE; CREATE SCHEMA public;",
            ],
            url,
            "emptying the database",
        )
    _run(
        [
            "psql",
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "--single-transaction",
            "-f",
            str(tmp / POSTGRES_DUMP),
        ],
        url,
        "psql",
    )


def _restore_files(settings: Settings, url: URL, extracted: Path, present: list[Path]) -> None:
    for path in present:  # only with --force: the old instance's files go
        path.unlink()
    private_dir(settings.data_dir)
    if not extracted.is_dir():
        return
    for path in sorted(extracted.rglob("*")):
        relative = path.relative_to(extracted)
        target = settings.data_dir / relative
        if path.is_dir():
            target.mkdir(mode=0o700, parents=True, exist_ok=True)
        else:
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.copy2(path, target)
