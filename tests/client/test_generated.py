"""A client generated from the OpenAPI document (openapi-python-client, pinned in the dev
extras) works against a served Townhall: the document is a contract a generator can read,
and what it generates signs in, reads, follows, opens a room and lists rooms, typed."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from townhall.app import Container

GENERATOR = Path(sys.executable).with_name("openapi-python-client")


class Generated:
    """The generated package, and its endpoint modules by method and path."""

    def __init__(self, package: ModuleType, root: Path) -> None:
        self.package = package
        self.models: Any = importlib.import_module(f"{package.__name__}.models")
        self._root = root

    def endpoint(self, method: str, path: str) -> Any:
        """The module of one operation (``asyncio_detailed`` and friends), found by the
        method and path it sends."""
        found = [
            module
            for module in sorted(self._root.glob("api/*/*.py"))
            if f'"method": "{method.lower()}"' in (text := module.read_text())
            and f'"{path}"' in text
        ]
        assert len(found) == 1, f"{method} {path}: {found}"
        name = found[0].relative_to(self._root.parent).with_suffix("")
        return importlib.import_module(".".join(name.parts))


@pytest.fixture
def generated(app: Any, tmp_path: Path) -> Iterator[Generated]:
    """A client generated from the app's document into ``tmp_path``, imported."""
    source = tmp_path / "openapi.json"
    source.write_text(json.dumps(app.openapi()))
    name = f"townhall_generated_{uuid.uuid4().hex[:8]}"
    config = tmp_path / "generator.json"
    # No formatting of the generated code: it is imported, not read.
    # The incident audio (audio/ogg) is read as any file is.
    options = {
        "package_name_override": name,
        "post_hooks": [],
        "content_type_overrides": {"audio/ogg": "application/octet-stream"},
    }
    config.write_text(json.dumps(options))
    out = tmp_path / "client" / name
    done = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(source),
            "--output-path",
            str(out),
            "--meta",
            "none",
            "--config",
            str(config),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(out.parent))
    try:
        yield Generated(importlib.import_module(name), out)
    finally:
        sys.path.remove(str(out.parent))
        for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[module]


async def test_a_generated_client_signs_in_follows_opens_a_room_and_lists_rooms(
    generated: Generated, container: Container, server_url: str
) -> None:
    """Through the generated client only: a sign-in link exchanged for a token, then with
    it /api/me, following someone, opening a room and the live rooms, each answer a typed
    model of the document."""
    api, models = generated.package, generated.models
    await container.accounts.create_account("ada@example.org", "ada")
    await container.accounts.create_account("bob@example.org", "bob")
    link = await container.accounts.create_sign_in_link("ada")

    visitor = api.Client(base_url=server_url)
    r = await generated.endpoint("POST", "/api/auth/link").asyncio_detailed(
        client=visitor,
        body=models.LinkIn.from_dict({"token": link.rsplit("/", 1)[1], "session": "token"}),
    )
    assert r.status_code == 200, r.content
    assert isinstance(r.parsed, models.SignedInOut)
    assert isinstance(r.parsed.token, str) and r.parsed.user.username == "ada"
    ada = api.AuthenticatedClient(base_url=server_url, token=r.parsed.token)

    me = await generated.endpoint("GET", "/api/me").asyncio_detailed(client=ada)
    assert me.status_code == 200 and isinstance(me.parsed, models.MeOut)
    assert (me.parsed.username, me.parsed.email) == ("ada", "ada@example.org")

    followed = await generated.endpoint("PUT", "/api/users/{username}/follow").asyncio_detailed(
        "bob", client=ada
    )
    assert followed.status_code == 200 and isinstance(followed.parsed, models.RelationshipOut)
    assert followed.parsed.username == "bob" and followed.parsed.you_follow is True

    opened = await generated.endpoint("POST", "/api/rooms").asyncio_detailed(
        client=ada, body=models.CreateRoomIn.from_dict({"title": "Generated"})
    )
    assert opened.status_code == 201 and isinstance(opened.parsed, models.SnapshotOut)
    assert opened.parsed.title == "Generated" and opened.parsed.stage[0].username == "ada"

    live = await generated.endpoint("GET", "/api/rooms").asyncio_detailed(client=ada)
    assert live.status_code == 200 and isinstance(live.parsed, models.RoomListOut)
    assert [(room.id, room.title) for room in live.parsed.items] == [
        (opened.parsed.id, "Generated")
    ]

    # An error is the document's Error too.
    missing = await generated.endpoint("GET", "/api/users/{username}").asyncio_detailed(
        "nobody", client=ada
    )
    assert missing.status_code == 404 and isinstance(missing.parsed, models.Error)
    assert missing.parsed.error.code == "user_not_found"
