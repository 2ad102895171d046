"""``townhall backup`` and ``townhall restore`` as real processes, on SQLite and PostgreSQL:
a round trip keeps accounts, follows, clubs, events and uploads, and a restore refuses to
overwrite an instance that is not empty."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.conftest import FakeClock, postgres_admin, postgres_database_url
from tests.test_cli import cli_for, run
from townhall.api.http import create_api
from townhall.app import build_container
from townhall.config import Settings


@pytest.fixture
async def empty_database(settings: Settings, tmp_path: Path) -> AsyncIterator[str]:
    """A second, empty database of the same kind as the test's."""
    if not str(settings.database_url).startswith("postgresql"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'restored.db'}"
        return
    name = f"townhall_restore_{uuid.uuid4().hex[:12]}"
    await postgres_admin(f'CREATE DATABASE "{name}"')
    yield postgres_database_url(name)
    await postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def picture() -> bytes:
    png = BytesIO()
    Image.new("RGB", (16, 16), "purple").save(png, "PNG")
    return png.getvalue()


@pytest.mark.settings(club_found_min_rooms_hosted=0)
async def test_backup_and_restore_round_trip(
    settings: Settings, people: Any, clock: FakeClock, tmp_path: Path, empty_database: str
) -> None:
    ada = await people.member("ada")
    bob = await people.member("bob")
    assert (await bob.put("/api/users/ada/follow")).status_code == 200
    uploaded = await ada.put("/api/me/avatar", files={"file": ("a.png", picture(), "image/png")})
    assert uploaded.status_code == 200, uploaded.text
    avatar = uploaded.json()["avatar_url"]
    club = await ada.post("/api/clubs", json={"name": "Jazz"})
    assert club.status_code == 201, club.text
    event = await ada.post(
        "/api/events",
        json={
            "name": "Bebop night",
            "starts_at": "2026-03-10T20:00",
            "time_zone": "Europe/Paris",
            "club": club.json()["id"],
        },
    )
    assert event.status_code == 201, event.text

    archive = tmp_path / "townhall.tar.gz"
    made = await cli_for(settings)("backup", str(archive))
    assert made.code == 0, made.err
    assert made.out.startswith("backed up the ")
    again = await cli_for(settings)("backup", str(archive))
    assert (again.code, "(backup_exists)" in again.err) == (1, True)

    restored = tmp_path / "restored"
    target = ["--data-dir", str(restored), "--database-url", empty_database]
    done = await run(*target, "restore", str(archive))
    assert done.code == 0, done.err
    refused = await run(*target, "restore", str(archive))
    assert refused.code == 1
    assert "(restore_target_not_empty)" in refused.err
    assert (await run(*target, "restore", "--force", str(archive))).code == 0, "forced"

    # The restored instance, opened with the same configuration, knows everyone and
    # everything, and ada's session still signs her in.
    copy = settings.model_copy(
        update={
            "data_dir": restored,
            "database_url": empty_database,
            "redis_prefix": f"{settings.redis_prefix}restored:",
        }
    )
    container = build_container(copy, clock)
    await container.start()
    try:
        transport = httpx.ASGITransport(app=create_api(container), client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://townhall.test",
            headers={"Authorization": ada.headers["Authorization"]},
        ) as again_ada:
            me = (await again_ada.get("/api/me")).json()
            assert (me["username"], me["status"]) == ("ada", "member")
            followers = (await again_ada.get("/api/users/ada/followers")).json()["items"]
            assert [f["username"] for f in followers] == ["bob"]
            assert (await again_ada.get(f"/api/clubs/{club.json()['id']}")).json()["name"] == "Jazz"
            shown = (await again_ada.get(f"/api/events/{event.json()['id']}")).json()
            assert shown["name"] == "Bebop night"
            picture_file = await again_ada.get(avatar)
            assert picture_file.status_code == 200
            assert picture_file.content == (await ada.get(avatar)).content
    finally:
        await container.close()


async def test_restore_refuses_what_is_not_a_backup(tmp_path: Path) -> None:
    """A file that is not an archive from backup is refused without touching anything."""
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive")
    ran = await run("--data-dir", str(tmp_path / "data"), "restore", str(junk))
    assert ran.code == 1
    assert "(not_a_backup)" in ran.err
    assert not (tmp_path / "data").exists()
