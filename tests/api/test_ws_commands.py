"""The WebSocket command registry against docs/protocol.md, and dispatch through it."""

from __future__ import annotations

import re
from pathlib import Path

from townhall.api.ws import protocol
from townhall.api.ws.commands import REGISTRY, SCHEMAS

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def documented() -> dict[str, dict[str, bool]]:
    """Command name → {field: required} from the client → server table."""
    text = DOC.read_text()
    section = text.split("## Client → server", 1)[1].split("\n## ", 1)[0]
    out: dict[str, dict[str, bool]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not re.fullmatch(r"`[a-z.]+`", cells[0]):
            continue
        fields = re.sub(r"\([^)]*\)", "", cells[1])
        out[cells[0].strip("`")] = {
            name.rstrip("?"): not name.endswith("?") for name in re.findall(r"`([a-z_?]+)`", fields)
        }
    return out


def registered() -> dict[str, dict[str, bool]]:
    return {
        name: {
            field: info.is_required()
            for field, info in command.schema.model_fields.items()
            if field not in ("id", "type")
        }
        for name, command in REGISTRY.items()
    }


def test_the_protocol_table_lists_every_registered_command_and_its_fields() -> None:
    """docs/protocol.md names exactly the registered commands, with their fields and
    which of them are optional."""
    assert documented() == registered()


def test_parsing_uses_the_registry() -> None:
    """A message is validated by the schema registered under its type; others are refused."""
    message = protocol.parse('{"id": 1, "type": "room.join", "room": "abc"}', SCHEMAS)
    assert isinstance(message, REGISTRY["room.join"].schema)
    try:
        protocol.parse('{"id": 2, "type": "room.explode", "room": "abc"}', SCHEMAS)
    except protocol.ProtocolError as exc:
        assert exc.id == 2
    else:
        raise AssertionError("an unregistered type was accepted")


def test_only_pong_goes_unanswered() -> None:
    """Every command but pong sends exactly one reply."""
    assert {name for name, c in REGISTRY.items() if not c.replies} == {"pong"}
