"""Issue 11 item 14: the data directory, the SQLite database and the instance secret are
readable by the server's own user only."""

from __future__ import annotations

import stat
from pathlib import Path

from townhall.app import build_container
from townhall.config import Settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_fresh_data_dir_is_private(settings: Settings, tmp_path: Path) -> None:
    """A first start creates the data dir 0700 and the secret (and, on SQLite, the database
    with its journal files) 0600."""
    data = tmp_path / "fresh" / "data"
    changes: dict[str, object] = {"data_dir": data, "secret_key": None}
    if settings.database_url and settings.database_url.startswith("sqlite"):
        changes["database_url"] = None  # the default: <data_dir>/townhall.db
    container = build_container(settings.model_copy(update=changes))
    try:
        await container.db.migrate()
        await container.db.ping()
    finally:
        await container.close()
    assert mode(data) == 0o700
    assert mode(data / "secret.key") == 0o600
    databases = sorted(data.glob("townhall.db*"))
    if "database_url" in changes:
        assert databases, "no SQLite file in the data dir"
    for path in databases:
        assert mode(path) == 0o600, path
