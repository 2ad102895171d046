"""Bus channel names and the envelopes carried on them: the one module that spells either.

    room:<id>       a room's numbered events, as clients receive them (``room_event``);
                    the sockets that follow the room and the room's media plane listen
    levels:<id>     who is speaking in a room (``levels_event``): unnumbered, never kept,
                    so that nothing following a room's *events* has to sort them out
    audience:<id>   a room's audience digests (``digest_event``), as clients receive them:
                    unnumbered, at most one per interval for each part of the room
    roster:<id>     one message per listener who came, changed or went (``roster_change``):
                    for the processes that digest the room and for its media, never
                    for sockets
    user:<id>       one person's notices (``notice``) and live notifications
    notifications   notifications for many people at once (``addressed``)
    hallway         "the hallway changed" hints (``HALLWAY_HINT``), for every socket
    incidents       requests to seal a live room's incident audio (``seal_request``): the
                    process holding the room's audio seals it
    standing        people whose standing changed (``standing``): signed out, another
                    status, deleted; every process closes or refreshes their sockets

A room's channel name is also the ``stream`` its events and levels carry on the wire
(docs/protocol.md), so a client tells rooms apart the same way (``room_of``).

Envelopes are JSON text built once by their publisher; readers parse them once per process
and hand the same text on. The readers return None for anything malformed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

HALLWAY = "hallway"
NOTIFICATIONS = "notifications"
HALLWAY_HINT = '{"type":"hallway.changed"}'
STANDING = "standing"
INCIDENTS = "incidents"

Kind = Literal["room", "levels", "audience", "roster", "user"]
KINDS: tuple[Kind, ...] = ("room", "levels", "audience", "roster", "user")


def room(room_id: str) -> str:
    return f"room:{room_id}"


def levels(room_id: str) -> str:
    return f"levels:{room_id}"


def audience(room_id: str) -> str:
    return f"audience:{room_id}"


def roster(room_id: str) -> str:
    return f"roster:{room_id}"


def user(user_id: int) -> str:
    return f"user:{user_id}"


def parse(channel: str) -> tuple[Kind, str] | None:
    """``"room:abc"`` → ``("room", "abc")``; None for a shared channel or a foreign name."""
    prefix, _, key = channel.partition(":")
    for kind in KINDS:
        if prefix == kind and key:
            return kind, key
    return None


def room_of(stream: str) -> str | None:
    """The room of a wire ``stream`` (``"room:abc"`` → ``"abc"``); None for any other."""
    parsed = parse(stream)
    return parsed[1] if parsed is not None and parsed[0] == "room" else None


def _dump(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"))


# --- room events -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoomEventEnvelope:
    """A room event read from its wire text; ``text`` is what goes on to clients."""

    room: str
    seq: int
    name: str
    data: dict[str, Any]
    audience: dict[str, Any] | None
    """As published: ``{"roles": [...], "users": [...]}``, or None for everyone."""
    text: str


def room_event(
    room_id: str,
    seq: int,
    name: str,
    data: Mapping[str, Any],
    audience: Mapping[str, Any] | None,
    at: datetime,
) -> str:
    """The wire form of a room event, serialised once for every recipient."""
    return _dump(
        {
            "type": "event",
            "stream": room(room_id),
            "seq": seq,
            "name": name,
            "data": dict(data),
            "audience": None if audience is None else dict(audience),
            "at": at.isoformat(),
        }
    )


def read_room_event(text: str) -> RoomEventEnvelope | None:
    try:
        raw = json.loads(text)
        if raw.get("type") != "event":
            return None
        room_id = room_of(raw["stream"])
        if room_id is None:
            return None
        data = raw.get("data") or {}
        audience = raw.get("audience")
        return RoomEventEnvelope(
            room=room_id,
            seq=int(raw["seq"]),
            name=str(raw["name"]),
            data=data if isinstance(data, dict) else {},
            audience=audience if isinstance(audience, dict) else None,
            text=text,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


# --- audio levels ----------------------------------------------------------------------------


def levels_event(room_id: str, levels: Mapping[str, float]) -> str:
    """Who is speaking, as clients receive it: an event of the room's stream without ``seq``."""
    return _dump(
        {
            "type": "event",
            "name": "audio.levels",
            "stream": room(room_id),
            "data": {"levels": dict(levels)},
        }
    )


def reconnect_event(room_id: str, sessions: list[str] | None = None) -> str:
    """The room's audio moved to another media worker, or the worker of ``sessions`` (those
    audio connections only) stopped: connect again (docs/protocol.md, ``audio.reconnect``).
    Sent like the levels, without ``seq``."""
    data: dict[str, Any] = {} if sessions is None else {"sessions": sessions}
    return _dump(
        {"type": "event", "name": "audio.reconnect", "stream": room(room_id), "data": data}
    )


def is_reconnect(payload: str) -> bool:
    return '"audio.reconnect"' in payload


# --- the audience ----------------------------------------------------------------------------


def digest_event(room_id: str, roles: list[str], data: Mapping[str, Any]) -> str:
    """An audience digest as clients receive it: an event of the room's stream without
    ``seq``, for the people whose role in the room is in ``roles``."""
    return _dump(
        {
            "type": "event",
            "name": "audience.changed",
            "stream": room(room_id),
            "data": dict(data),
            "audience": {"roles": sorted(roles), "users": []},
        }
    )


def read_digest_roles(text: str) -> frozenset[str] | None:
    """The roles an audience digest is for, or None when ``text`` is not one."""
    try:
        raw = json.loads(text)
        roles = raw["audience"]["roles"]
        return frozenset(r for r in roles if isinstance(r, str))
    except (ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True, slots=True)
class RosterChange:
    """A listener came into a room or changed there (``went`` False), or went out of it."""

    room: str
    user_id: int
    username: str
    went: bool


def roster_change(room_id: str, user_id: int, username: str, went: bool) -> str:
    return _dump({"room": room_id, "user": user_id, "username": username, "went": went})


def roster_missed(room_id: str) -> str:
    """Said by a process that gathered changes before the leader of the room's digest began
    to listen: the leader's next digest cannot be complete."""
    return _dump({"room": room_id, "missed": True})


def read_roster_missed(text: str) -> str | None:
    """The room of a ``roster_missed`` message, else None."""
    try:
        raw = json.loads(text)
        return str(raw["room"]) if raw.get("missed") is True else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def read_roster(text: str) -> RosterChange | None:
    try:
        raw = json.loads(text)
        return RosterChange(
            str(raw["room"]), int(raw["user"]), str(raw["username"]), bool(raw["went"])
        )
    except (ValueError, KeyError, TypeError):
        return None


# --- personal notices ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notice:
    """A message on a ``user:`` channel (a notice or a notification), read once."""

    name: str
    data: dict[str, Any]
    text: str


def notice(name: str, data: Mapping[str, Any]) -> str:
    """A personal, unnumbered event for one person's own stream."""
    return _dump({"type": "notice", "name": name, "data": dict(data)})


def read_notice(text: str) -> Notice | None:
    try:
        raw = json.loads(text)
        data = raw.get("data") or {}
        return Notice(name=str(raw["name"]), data=data if isinstance(data, dict) else {}, text=text)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


# --- many recipients at once -----------------------------------------------------------------


def addressed(user_ids: list[int], text: str) -> str:
    """The message on ``NOTIFICATIONS``: whom it is for, and the text to send each of them."""
    return _dump({"to": user_ids, "text": text})


def read_addressed(payload: str) -> tuple[list[int], str] | None:
    try:
        message = json.loads(payload)
        to, text = message["to"], message["text"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(to, list) or not isinstance(text, str):
        return None
    return [uid for uid in to if isinstance(uid, int)], text


# --- standing --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StandingChanged:
    """People whose standing changed, and why (``domain.standing.Reason``)."""

    users: tuple[int, ...]
    reason: str
    sessions: tuple[int, ...] | None
    """The sessions that ended (``signed_out``); None for all of them, or for none."""


def standing(users: list[int], reason: str, sessions: list[int] | None = None) -> str:
    return _dump({"users": users, "reason": reason, "sessions": sessions})


def read_standing(payload: str) -> StandingChanged | None:
    try:
        raw = json.loads(payload)
        users, reason, sessions = raw["users"], raw["reason"], raw.get("sessions")
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(users, list) or not isinstance(reason, str):
        return None
    if sessions is not None and not isinstance(sessions, list):
        return None
    return StandingChanged(
        users=tuple(u for u in users if isinstance(u, int)),
        reason=reason,
        sessions=None if sessions is None else tuple(s for s in sessions if isinstance(s, int)),
    )


# --- incident audio --------------------------------------------------------------------------


def seal_request(room_id: str, incident_id: str) -> str:
    """Seal ``room_id``'s incident audio as ``incident_id``, wherever the room's audio is."""
    return _dump({"room": room_id, "incident": incident_id})


def read_seal_request(payload: str) -> tuple[str, str] | None:
    try:
        message = json.loads(payload)
        room_id, incident_id = message["room"], message["incident"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(room_id, str) or not isinstance(incident_id, str):
        return None
    return room_id, incident_id
