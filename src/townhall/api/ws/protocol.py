"""The WebSocket protocol without sockets: client messages, replies and event ordering.

Everything here works on plain data so that it can be reasoned about (and tested) apart
from any connection. See docs/protocol.md for the wire format.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from townhall.bus import channels
from townhall.domain.rooms.commands import NAME_MAX
from townhall.domain.rooms.events import Audience, visible_to

MAX_ID = 2**53 - 1
MAX_MESSAGE = 16_384
"""Longest client message (characters); every valid command fits in far less."""

PING = '{"type":"ping"}'
PONG = '{"type":"pong"}'
"""A pong as the web app and the Python client send it: only a sign of life, taken as read
without parsing or queueing it behind the socket's commands."""

# The characters of a room's id (as over HTTP): anything else, a NUL that PostgreSQL
# cannot store included, is refused before it reaches the database.
RoomId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
Seq = Annotated[int, Field(ge=0, le=MAX_ID)]


class ProtocolError(Exception):
    """A client message that cannot be run; answered with ``invalid_message``."""

    def __init__(self, id: int | None, message: str, **details: Any) -> None:
        super().__init__(message)
        self.id = id
        self.message = message
        self.details = details


class Message(BaseModel):
    """A client message: ``{"id": <int>, "type": <name>, ...fields}``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: Seq
    type: str


class Subscribe(Message):
    room: RoomId
    after: Seq | None = None


class Unsubscribe(Message):
    room: RoomId


class RoomJoin(Message):
    room: RoomId


class RoomLeave(Message):
    room: RoomId


class RoomCommand(Message):
    """A room command; every other field is one of its own arguments, which the room
    service checks against the command's declaration (``invalid_arguments``)."""

    model_config = ConfigDict(extra="allow", strict=True)

    room: RoomId
    command: Annotated[str, Field(min_length=1, max_length=NAME_MAX)]

    def arguments(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class RoomCreate(Message):
    title: Annotated[str, Field(max_length=200)]
    kind: Annotated[str, Field(max_length=20)] = "open"
    hand_raise: Annotated[str, Field(max_length=20)] = "everyone"


class Pong(Message):
    id: Seq | None = None  # type: ignore[assignment]


def _message_id(raw: dict[str, Any]) -> int | None:
    mid = raw.get("id")
    if isinstance(mid, int) and not isinstance(mid, bool) and 0 <= mid <= MAX_ID:
        return mid
    return None


def message_id(text: str | None) -> int | None:
    """The ``id`` of a message that is refused unread, if it has one."""
    if text is None or len(text) > MAX_MESSAGE:
        return None
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return _message_id(raw) if isinstance(raw, dict) else None


def parse(text: str, schemas: Mapping[str, type[Message]]) -> Message:
    """One client message, validated against the schema ``schemas`` gives for its type
    (the command registry, api/ws/commands.py)."""
    if len(text) > MAX_MESSAGE:
        raise ProtocolError(None, f"Messages are at most {MAX_MESSAGE} characters.")
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError(None, "Messages are JSON objects.") from None
    if not isinstance(raw, dict):
        raise ProtocolError(None, "Messages are JSON objects.")
    mid = _message_id(raw)
    kind = raw.get("type")
    schema = schemas.get(kind) if isinstance(kind, str) else None
    if schema is None:
        raise ProtocolError(mid, "Unknown message type.")
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        fields = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ())) or "message",
                "problem": err.get("msg", "invalid"),
            }
            for err in exc.errors()
        ]
        raise ProtocolError(mid, "Some fields are missing or invalid.", fields=fields) from None


def dump(body: object) -> str:
    return json.dumps(body, separators=(",", ":"))


def result(id: int | None, body: dict[str, Any]) -> str:
    return dump({"type": "result", "id": id, "success": True, "result": body})


def result_text(id: int | None, body: str) -> str:
    """``result`` with a body already in JSON text."""
    return f'{{"type":"result","id":{dump(id)},"success":true,"result":{body}}}'


def error(id: int | None, code: str, message: str, **details: Any) -> str:
    return dump(
        {
            "type": "result",
            "id": id,
            "success": False,
            "error": {"code": code, "message": message, **details},
        }
    )


def resync(room: str, snapshot: str) -> str:
    """Sent instead of events the server could no longer fetch: start over from this state
    (the snapshot in JSON text)."""
    head = dump({"type": "snapshot", "stream": channels.room(room)})
    return f'{head[:-1]},"snapshot":{snapshot}}}'


# --- events from the bus -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoomEvent:
    """A room event as published, read once per process; ``text`` goes out unchanged."""

    room: str
    seq: int
    name: str
    data: dict[str, Any]
    audience: Audience | None
    text: str


def read_event(text: str) -> RoomEvent | None:
    """A room event from its wire text, or None when it is not one."""
    envelope = channels.read_room_event(text)
    if envelope is None:
        return None
    return RoomEvent(
        room=envelope.room,
        seq=envelope.seq,
        name=envelope.name,
        data=envelope.data,
        audience=Audience.of(envelope.audience),
        text=text,
    )


ROLE_EVENTS = frozenset({"member.joined", "member.updated"})


@dataclass
class Deliveries:
    """What a stream decided: texts to send now, a gap to fetch, whether it has ended."""

    texts: list[str] = field(default_factory=list)
    fetch_after: int | None = None
    ended: bool = False


class RoomStream:
    """One person's view of one room's events: in order, without duplicates, filtered.

    Events arriving before the stream has its starting point, or while a gap is being
    fetched, wait in ``pending``; they are released in sequence once the gap is filled.
    """

    def __init__(self, room: str, username: str) -> None:
        self.room = room
        self.username = username
        self.last_seq: int | None = None
        self.role: str | None = None
        self.pending: dict[int, RoomEvent] = {}
        self.fetching = False
        self.ended = False

    def begin(
        self, seq: int, role: str | None, missed: list[RoomEvent]
    ) -> tuple[list[RoomEvent], Deliveries]:
        """Start after ``seq`` with ``role``; ``missed`` are the events already known after it.

        Returns the missed events this person may see, then what the live events waiting
        meanwhile add."""
        self.last_seq, self.role = seq, role
        shown = []
        for event in missed:
            if self.ended:
                break
            if event.seq > self.last_seq and self._apply(event):
                shown.append(event)
        return shown, self._drain()

    def offer(self, event: RoomEvent) -> Deliveries:
        """A live event from the bus."""
        if self.ended or (self.last_seq is not None and event.seq <= self.last_seq):
            return Deliveries()
        self.pending[event.seq] = event
        if self.last_seq is None or self.fetching:
            return Deliveries()
        return self._drain()

    def caught_up(self, events: list[RoomEvent]) -> Deliveries:
        """The events of a gap, fetched from the room's log."""
        self.fetching = False
        for event in events:
            if self.last_seq is not None and event.seq > self.last_seq:
                self.pending.setdefault(event.seq, event)
        out = self._drain()
        if out.fetch_after is not None:
            # The log did not have them either: skip the hole rather than ask forever.
            self.fetching = False
            self.last_seq = min(self.pending) - 1
            more = self._drain()
            out.texts += more.texts
            out.fetch_after, out.ended = more.fetch_after, out.ended or more.ended
        return out

    def restart(self, seq: int, role: str | None) -> Deliveries:
        """Continue from a fresh snapshot at ``seq`` (the gap was too long to fetch)."""
        self.fetching = False
        self.last_seq, self.role = seq, role
        for old in [s for s in self.pending if s <= seq]:
            del self.pending[old]
        return self._drain()

    def _drain(self) -> Deliveries:
        out = Deliveries()
        assert self.last_seq is not None
        while self.pending and not self.ended:
            event = self.pending.pop(self.last_seq + 1, None)
            if event is None:
                for old in [s for s in self.pending if s <= self.last_seq]:
                    del self.pending[old]
                if self.pending:
                    self.fetching = True
                    out.fetch_after = self.last_seq
                break
            if self._apply(event):
                out.texts.append(event.text)
        if self.ended:
            self.pending.clear()
            out.ended = True
        return out

    def _apply(self, event: RoomEvent) -> bool:
        """Advance past ``event``; True when this person may see it."""
        shown = visible_to(event.audience, self.role, self.username)
        self.last_seq = event.seq
        about_me = event.data.get("username") == self.username
        if event.name in ROLE_EVENTS and about_me:
            role = event.data.get("role")
            self.role = role if isinstance(role, str) else self.role
        elif event.name == "member.left" and about_me:
            self.role = None
            self.ended = True
        elif event.name == "room.ended":
            self.ended = True
        return shown
