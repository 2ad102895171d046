"""S4 the permission table over HTTP, action by action and role by role."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.api.roomkit import bring_on_stage, cmd, code, create, follow, join, ok, snap
from townhall.domain.rooms.commands import COMMANDS
from townhall.domain.rooms.rules import PERMISSIONS, ROLES

# Arguments that make each action meaningful in the room built by ``cast``.
ARGS: dict[str, dict[str, Any]] = {
    "invite_to_speak": {"target": "lou"},
    "mute_speaker": {"target": "sam"},
    "move_to_audience": {"target": "sam"},
    "make_moderator": {"target": "sam"},
    "remove_moderator": {"target": "mona"},
    "remove": {"target": "lou"},
    "ping": {"target": "pat"},
    "set_kind": {"kind": "open"},
    "set_hand_raise": {"mode": "off"},
    "rename": {"title": "Renamed"},
}
ACTOR = {"moderator": "mona", "speaker": "sam", "listener": "lee"}


async def cast(people: Any) -> tuple[str, dict[str, Any]]:
    """A social room: mona moderates, sam speaks (unmuted), lee and lou listen; pat follows
    everyone and is outside."""
    clients = {name: await people.member(name) for name in ("mona", "sam", "lee", "lou", "pat")}
    for name in ("sam", "lee", "lou"):
        await follow(clients["mona"], name)
    for name in ("mona", "sam", "lee"):
        await follow(clients["pat"], name)
    room = await create(clients["mona"], kind="social")
    rid = room["id"]
    for name in ("sam", "lee", "lou"):
        await join(clients[name], rid)
    await bring_on_stage(clients["mona"], clients["sam"], rid, "sam")
    await ok(clients["sam"], rid, "unmute")
    return rid, clients


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(PERMISSIONS))
async def test_permission_table(people: Any, action: str, role: str) -> None:
    """An allowed action succeeds or fails only on the room's state; a forbidden one is 403
    not_allowed and changes nothing."""
    rid, clients = await cast(people)
    actor = clients[ACTOR[role]]
    before = await snap(clients["mona"], rid)
    r = await cmd(actor, rid, action, **ARGS.get(action, {}))
    if role in PERMISSIONS[action]:
        assert r.status_code in (200, 409), r.text
        if r.status_code == 409:
            assert code(r) in {
                "hand_not_raised",
                "not_invited",
                "already_muted",
                "already_unmuted",
            }, r.text
    else:
        assert r.status_code == 403, r.text
        assert code(r) == "not_allowed"
        assert await snap(clients["mona"], rid) == before


async def test_unknown_command_is_rejected(people: Any) -> None:
    """A command outside the table is a 400 unknown_command."""
    mona = await people.member("mona")
    rid = (await create(mona))["id"]
    r = await cmd(mona, rid, "dance")
    assert r.status_code == 400 and code(r) == "unknown_command"


@pytest.mark.parametrize(
    "body",
    [
        {"command": "remove"},
        {"command": "rename"},
        {"command": "set_kind"},
        {"command": "set_hand_raise", "mode": "sometimes"},
        {"command": "set_kind", "kind": "secret"},
        {"command": "mute", "target": "sam"},
        {"command": "end", "title": "x"},
        {"command": "rename", "title": "x" * 61},
        {"command": "remove", "target": "x" * 65},
        {"command": "remove", "target": ""},
        {"command": "remove", "target": "@"},
        {"command": "end", "extra": 1},
    ],
)
async def test_command_arguments_are_validated(people: Any, body: dict[str, Any]) -> None:
    """Each command takes exactly the arguments it declares, each within bounds (400
    invalid_arguments), and nothing changes."""
    mona = await people.member("mona")
    rid = (await create(mona))["id"]
    before = await snap(mona, rid)
    r = await mona.post(f"/api/rooms/{rid}/commands", json=body)
    assert r.status_code == 400, r.text
    assert code(r) == "invalid_arguments"
    assert await snap(mona, rid) == before


@pytest.mark.parametrize("body", [{"command": "x" * 33}, {}, {"command": 5}])
async def test_command_bodies_need_a_command_name(people: Any, body: dict[str, Any]) -> None:
    """A body without a command name (a string of at most 32 characters) is a 422."""
    mona = await people.member("mona")
    rid = (await create(mona))["id"]
    r = await mona.post(f"/api/rooms/{rid}/commands", json=body)
    assert r.status_code == 422, r.text
    assert code(r) == "invalid_input"


@pytest.mark.parametrize("rid", ["a" * 17, "bad.id", "sp%20ace", "%C3%A9t%C3%A9"])
async def test_room_ids_in_paths_are_bounded(people: Any, rid: str) -> None:
    """A room id outside [A-Za-z0-9_-]{1,16} is a 422, never a lookup."""
    mona = await people.member("mona")
    r = await mona.get(f"/api/rooms/{rid}")
    assert r.status_code == 422, r.text
    r = await mona.post(f"/api/rooms/{rid}/commands", json={"command": "end"})
    assert r.status_code == 422, r.text


async def test_unknown_room_is_404(people: Any) -> None:
    """Every room endpoint answers 404 room_not_found for an id that does not exist."""
    mona = await people.member("mona")
    for r in [
        await mona.get("/api/rooms/nope"),
        await mona.post("/api/rooms/nope/join"),
        await mona.post("/api/rooms/nope/leave"),
        await cmd(mona, "nope", "end"),
        await mona.get("/api/rooms/nope/events"),
        await mona.get("/api/rooms/nope/preview"),
    ]:
        assert r.status_code == 404 and code(r) == "room_not_found", r.text


async def test_commands_need_membership(people: Any) -> None:
    """Someone who has not joined cannot run commands (403 not_in_room)."""
    mona, out = await people.member("mona"), await people.member("out")
    rid = (await create(mona))["id"]
    r = await cmd(out, rid, "raise_hand")
    assert r.status_code == 403 and code(r) == "not_in_room"


async def test_signed_out_cannot_use_rooms(people: Any, client: Any) -> None:
    """Rooms (but the preview) need a session: 401."""
    mona = await people.member("mona")
    rid = (await create(mona))["id"]
    assert (await client.get("/api/rooms")).status_code == 401
    assert (await client.get(f"/api/rooms/{rid}")).status_code == 401
    assert (await client.post(f"/api/rooms/{rid}/join")).status_code == 401
    assert (await client.post("/api/rooms", json={})).status_code == 401


def doc_rows(marker: str) -> list[list[str]]:
    """The cells of the rows of the table between ``<!-- marker:start/end -->`` in rooms.md."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "rooms.md").read_text()
    table = doc.split(f"<!-- {marker}:start -->")[1].split(f"<!-- {marker}:end -->")[0]
    return [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in table.strip().splitlines()[2:]
    ]


def test_documented_table_matches_permissions() -> None:
    """docs/rooms.md's permission table is rules.PERMISSIONS, with the arguments each
    registered command declares."""
    documented = {
        cells[0].strip("`"): (
            frozenset(role for role, cell in zip(ROLES, cells[1:4], strict=True) if cell == "yes"),
            cells[4] or None,
        )
        for cells in doc_rows("permissions")
    }
    assert documented == {
        action: (allowed, ", ".join(COMMANDS[action].arguments) or None)
        for action, allowed in PERMISSIONS.items()
    }


def test_documented_arguments_match_their_declarations() -> None:
    """docs/rooms.md's argument table describes every declared argument as declared."""
    documented = {cells[0].strip("`"): cells[1] for cells in doc_rows("arguments")}
    declared = {
        name: argument.describe()
        for command in COMMANDS.values()
        for name, argument in command.arguments.items()
    }
    assert documented == declared


def test_every_permitted_action_has_exactly_one_command() -> None:
    """The permission table and the registered commands name the same actions."""
    assert set(COMMANDS) == set(PERMISSIONS)
