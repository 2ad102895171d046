"""Room command arguments: declared once per command, refused alike over HTTP and WebSocket."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.roomkit import create, snap
from tests.api.test_ws import base, open_socket  # noqa: F401 (fixtures)
from townhall.domain.rooms.commands import COMMANDS

# A valid value for every argument any command declares.
VALID = {"target": "lou", "title": "Renamed", "kind": "open", "mode": "off"}


def refusals(name: str) -> list[dict[str, Any]]:
    """Argument sets ``name`` must refuse: a stray one, each declared one missing, each
    declared one of the wrong type."""
    takes = {arg: VALID[arg] for arg in COMMANDS[name].arguments}
    cases: list[dict[str, Any]] = [{**takes, "extra": 1}]
    cases += [{**takes, other: value} for other, value in VALID.items() if other not in takes]
    for arg in takes:
        cases.append({k: v for k, v in takes.items() if k != arg})
        cases.append({**takes, arg: 5})
        cases.append({**takes, arg: None})
    return cases


def test_every_declared_argument_has_a_valid_example() -> None:
    """The refusals below cover every argument a command declares."""
    declared = {arg for command in COMMANDS.values() for arg in command.arguments}
    assert declared == set(VALID)


@pytest.mark.parametrize("name", sorted(COMMANDS))
async def test_bad_arguments_are_refused_alike_over_http_and_websocket(
    people: Any,
    open_socket: Any,  # noqa: F811
    name: str,
) -> None:
    """A stray, missing or wrongly typed argument is refused with invalid_arguments and the
    same message and fields over both transports, and the room does not change."""
    mona = await people.member("mona")
    rid = (await create(mona))["id"]
    before = await snap(mona, rid)
    sock = await open_socket(mona)
    for arguments in refusals(name):
        body = {"command": name, **arguments}
        r = await mona.post(f"/api/rooms/{rid}/commands", json=body)
        assert r.status_code == 400, (body, r.text)
        over_http = r.json()["error"]
        reply = await sock.request("room.command", room=rid, **body)
        assert reply["success"] is False
        assert reply["error"] == over_http, body
        assert over_http["code"] == "invalid_arguments"
        assert over_http["fields"], body
    assert await snap(mona, rid) == before


async def test_openapi_describes_each_command_with_its_arguments(client: Any) -> None:
    """The command body's schema in /api/openapi.json is one of the registered commands,
    each with exactly its declared arguments, all required."""
    doc = (await client.get("/api/openapi.json")).json()
    schema = doc["components"]["schemas"]["CommandIn"]
    variants = {v["title"]: v for v in schema["oneOf"]}
    assert set(variants) == set(COMMANDS)
    for name, variant in variants.items():
        takes = list(COMMANDS[name].arguments)
        assert set(variant["properties"]) == {"command", *takes}
        assert variant["required"] == ["command", *takes]
        assert variant["additionalProperties"] is False
