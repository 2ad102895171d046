"""The WebSocket, fed malformed, oversized, wrong-typed and out-of-order messages: each is
answered with a documented error code or closes the socket with a documented close code,
a well-behaved socket next to it is still served, and a refused command changes nothing.

Hypothesis draws the messages (derandomized, so every run sends the same ones) in a worker
thread; each example runs on the test's event loop against one server for the whole test.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.api.roomkit import create, join
from tests.api.test_ws import serving, token_of
from tests.waiting import PATIENCE
from tests.waiting import ws_connect as connect
from townhall.api.ws import commands, protocol
from townhall.domain.rooms.commands import COMMANDS

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = 100
IN_ROOM, OUT_ROOM = "$in", "$out"
"""Stand-ins, in drawn messages, for the room the fuzzing person is in and one they are not."""


def documented_errors() -> set[str]:
    codes = set(re.findall(r"^\| `([a-z_]+)` \|", (DOCS / "errors.md").read_text(), re.M))
    protocol_md = (DOCS / "protocol.md").read_text()
    section = protocol_md.split("## Error codes", 1)[1].split("\n## ", 1)[0]
    return (codes | set(re.findall(r"`([a-z_]+)`", section))) - {"internal_error"}


def documented_closes() -> set[int]:
    section = (DOCS / "protocol.md").read_text().split("## Close codes", 1)[1].split("\n## ")[0]
    return {int(code) for code in re.findall(r"^\| (\d{4}) \|", section, re.M)}


ROOM_TYPES = sorted(n for n, c in commands.SCHEMAS.items() if "room" in c.model_fields)
ERRORS = documented_errors()
CLOSES = documented_closes()

# --- what is sent ---------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
ids = st.one_of(
    st.integers(0, protocol.MAX_ID),
    st.sampled_from([-1, protocol.MAX_ID + 1, 2**64, True, 1.5, "7", None]),
    values,
)
# Strings that storage and encodings trip on: lone surrogates, NUL, control and wide text.
SPECIAL = ["\ud800", "a\udfffb", "\x00", "nul\x00inside", "\u202e\u200b", "🎙" * 40, " ", ""]
nasty = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(max_size=30),
    st.text(st.characters(codec="utf-8"), max_size=30),
    st.integers(1, 15_000).map(lambda n: "x" * n),
)
rooms = st.one_of(st.sampled_from([IN_ROOM, OUT_ROOM, "nosuchroom", *SPECIAL]), nasty, values)
message = st.fixed_dictionaries(
    {
        "id": ids,
        "type": st.one_of(st.sampled_from(sorted(commands.REGISTRY)), st.text(max_size=12)),
    },
    optional={
        "room": rooms,
        "command": st.one_of(st.sampled_from(sorted(COMMANDS)), nasty, values),
        "after": st.one_of(st.integers(-5, 2**60), values),
        "title": st.one_of(nasty, values),
        "kind": st.one_of(st.sampled_from(["open", "social", "closed"]), nasty),
        "hand_raise": st.one_of(st.sampled_from(["off", "everyone", "followed"]), nasty),
        "target": st.one_of(st.sampled_from(["host", "mia", "nobody"]), nasty, values),
        "nested": values,
    },
)


# Well-formed messages with one field drawn badly find what the schema lets through.
GOOD = {
    "id": st.integers(1, 10_000),
    "room": st.sampled_from([IN_ROOM, OUT_ROOM]),
    "after": st.integers(0, 40),
    "title": st.just("A title"),
    "kind": st.sampled_from(["open", "social", "closed"]),
    "hand_raise": st.sampled_from(["off", "everyone", "followed"]),
    "command": st.sampled_from(sorted(COMMANDS)),
}
BAD = st.one_of(st.sampled_from(SPECIAL), nasty, values)


@st.composite
def one_bad_field(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(commands.REGISTRY)))
    names = [n for n in commands.SCHEMAS[kind].model_fields if n != "type"]
    if kind == "room.command":
        names.append("target")
    body = {n: draw(GOOD.get(n, st.sampled_from(["host", "mia"]))) for n in names}
    body[draw(st.sampled_from(names))] = draw(BAD)
    return {"type": kind, **body}


def unescaped(value: Any) -> str:
    """JSON with its text as UTF-8, not escapes; escaped where it cannot be (surrogates)."""
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode()
    except UnicodeEncodeError:
        return json.dumps(value)
    return text


def nested(depth: int) -> str:
    return '{"id":1,"type":"room.create","title":' + "[" * depth + "]" * depth + "}"


frames = st.one_of(
    one_bad_field().map(json.dumps),
    one_bad_field().map(json.dumps),
    message.map(json.dumps),
    message.map(unescaped),
    st.text(max_size=40),  # mostly not JSON
    values.map(json.dumps),  # JSON, mostly not an object
    st.integers(1, 100_000).map(lambda n: "[" * n),
    st.integers(1, 8_000).map(nested),
    st.binary(max_size=64),
    st.sampled_from([20_000, 70_000]).map(
        lambda n: json.dumps({"id": 1, "type": "room.create", "title": "x" * n})
    ),
    st.just(b"\x00" * 70_000),
)

# --- what comes back ------------------------------------------------------------------------


def gets_no_reply(frame: str | bytes) -> bool:
    """A well-formed ``pong``: the one message that is not answered."""
    if isinstance(frame, bytes) or len(frame) > protocol.MAX_MESSAGE:
        return False
    try:
        raw = json.loads(frame)
    except (ValueError, RecursionError):
        return False
    if not isinstance(raw, dict) or raw.get("type") != "pong" or set(raw) - {"id", "type"}:
        return False
    mid = raw.get("id")
    return mid is None or (type(mid) is int and 0 <= mid <= protocol.MAX_ID)


@dataclass
class Outcome:
    replies: list[dict[str, Any]] = field(default_factory=list)
    close: int | None = None


PROBE_ID = protocol.MAX_ID


async def exchange(ws: ClientConnection, sent: list[str | bytes]) -> Outcome:
    """Send the frames, then a probe that must be answered; collect replies until the probe's
    (every earlier message was answered by then: a socket's messages run in order), or the
    close."""
    outcome = Outcome()
    probe = json.dumps({"id": PROBE_ID, "type": "unsubscribe", "room": "probe"})
    try:
        for frame in [*sent, probe]:
            await ws.send(frame)
        while True:
            text = await asyncio.wait_for(ws.recv(), PATIENCE)
            assert isinstance(text, str), "the server sent a binary frame"
            reply = json.loads(text)
            assert isinstance(reply, dict) and isinstance(reply.get("type"), str), text
            if reply["type"] != "result":
                continue  # events, notices, pings
            if reply.get("id") == PROBE_ID and reply.get("success") is True:
                return outcome
            outcome.replies.append(reply)
    except ConnectionClosed:
        outcome.close = ws.close_code
        return outcome


# --- the property ---------------------------------------------------------------------------


@dataclass
class Scene:
    base: str
    host: Any  # the room's moderator, over HTTP
    fuzzer: Any  # a listener in IN_ROOM
    watcher: ClientConnection  # the moderator's socket, well-behaved
    rooms: dict[str, str]
    max_bytes: int
    served: int = 0
    before: dict[str, Any] | None = None
    """The rooms as the last example left them."""

    async def snapshot(self, room: str) -> Any:
        r = await self.host.get(f"/api/rooms/{room}")
        assert r.status_code == 200, r.text
        return r.json()

    async def watcher_answers(self) -> None:
        self.served += 1
        await self.watcher.send(
            json.dumps({"id": self.served, "type": "subscribe", "room": self.rooms[IN_ROOM]})
        )
        while True:
            reply = json.loads(await asyncio.wait_for(self.watcher.recv(), PATIENCE))
            if reply.get("type") == "result" and reply.get("id") == self.served:
                assert reply["success"], reply
                return

    def resolve(self, frame: str | bytes) -> str | bytes:
        if isinstance(frame, bytes):
            return frame
        for stand_in, room in self.rooms.items():
            frame = frame.replace(json.dumps(stand_in), json.dumps(room))
        return frame

    async def snapshots(self) -> dict[str, Any]:
        return {name: await self.snapshot(room) for name, room in self.rooms.items()}

    async def run(self, drawn: list[str | bytes]) -> None:
        sent = [self.resolve(f) for f in drawn]
        before = self.before or await self.snapshots()
        async with connect(
            f"{self.base}/api/ws",
            additional_headers={"Authorization": f"Bearer {token_of(self.fuzzer)}"},
            max_size=None,
        ) as ws:
            outcome = await exchange(ws, sent)

        for reply in outcome.replies:
            assert set(reply) >= {"id", "success"}, reply
            if not reply["success"]:
                assert reply["error"]["code"] in ERRORS, reply
        too_big = [len(f) for f in sent if len(f) > self.max_bytes]
        if outcome.close is None:
            assert not too_big, f"a {too_big[0]}-byte message was read"
            assert len(outcome.replies) == sum(not gets_no_reply(f) for f in sent), outcome
        else:
            assert outcome.close in CLOSES, outcome.close
            assert outcome.close != 1009 or too_big, "1009 without an oversized message"

        # Nothing half-done: the room they are not in never changes, nor the room they are
        # in unless one of their commands there succeeded.
        after = await self.snapshots()
        assert after[OUT_ROOM] == before[OUT_ROOM]
        succeeded = any(reply["success"] for reply in outcome.replies)
        if not succeeded:
            assert after[IN_ROOM] == before[IN_ROOM]
        self.before = after
        await self.watcher_answers()
        if succeeded:
            # It may have taken them out (room.leave) or elsewhere (room.create).
            r = await self.fuzzer.get(f"/api/rooms/{self.rooms[IN_ROOM]}")
            if r.json().get("me") is None:
                await join(self.fuzzer, self.rooms[IN_ROOM])
                self.before = None


async def test_no_message_breaks_the_socket_the_server_or_a_room(
    app: Any, people: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Every drawn sequence of frames gets documented answers or a documented close, and no
    error is logged; the server goes on serving another socket, and refused commands leave
    the rooms as they were."""
    host, fuzzer = await people.member("host"), await people.member("mia")
    inside = (await create(host, title="Fuzzed", kind="open"))["id"]
    outside = (await create(host, title="Closed", kind="closed"))["id"]
    await join(fuzzer, inside)
    loop = asyncio.get_running_loop()
    async with (
        serving(app) as base,
        connect(
            f"{base}/api/ws", additional_headers={"Authorization": f"Bearer {token_of(host)}"}
        ) as watcher,
    ):
        scene = Scene(
            base,
            host,
            fuzzer,
            watcher,
            {IN_ROOM: inside, OUT_ROOM: outside},
            settings.ws_max_message_bytes,
        )
        await scene.watcher_answers()

        @given(st.lists(frames, min_size=1, max_size=4))
        @example([json.dumps({"id": 1, "type": kind, "room": "nul\x00"}) for kind in ROOM_TYPES])
        @example([nested(5000), "[" * 16_000, b"\xff\xfe"])
        @example(['{"id": 1, "type": "room.create", "title": "\\ud800"}', "x" * 70_000])
        @hypothesis_settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        def examples(drawn: list[str | bytes]) -> None:
            asyncio.run_coroutine_threadsafe(scene.run(drawn), loop).result(4 * PATIENCE)

        await asyncio.to_thread(examples)
        assert scene.served > EXAMPLES // 2
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
