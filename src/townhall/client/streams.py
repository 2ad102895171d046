"""Which room streams a live connection follows and the last event number seen in each.

Sans-I/O: it works on decoded messages and says what to hand to the reader, so the resume
logic is the same whatever carries the messages (and is testable without sockets).
"""

from __future__ import annotations

from typing import Any

from townhall.bus.channels import room as room_stream
from townhall.bus.channels import room_of

Message = dict[str, Any]

__all__ = ["Message", "RoomStreams", "room_of"]


STAGE_ROLES = frozenset({"moderator", "speaker"})


class RoomStreams:
    """Follows subscribed rooms, drops events already seen, and holds back live events
    that arrive while a room is being resumed until its backlog has been handed over.

    It also keeps each room's audience as the server tells it: the count and the listeners
    known, from the snapshot, the stage events and the ``audience.changed`` digests. When a
    digest says it is not complete (after a resume, or a digest whose lists overflowed)
    the room is in ``stale``: read ``GET /api/rooms/{id}/audience`` to know everyone."""

    def __init__(self) -> None:
        self.seq: dict[str, int] = {}
        """The last event number handed over, per subscribed room."""
        self.listeners: dict[str, int] = {}
        """How many listen, per room, as last told."""
        self.audience: dict[str, dict[str, Message]] = {}
        """Room → username → the listener (as in the snapshot), for the listeners known."""
        self.stale: set[str] = set()
        """Rooms whose ``audience`` may miss people (a digest was not complete)."""
        self._held: dict[str, list[Message]] = {}

    def rooms(self) -> list[str]:
        return list(self.seq)

    def forget(self, room: str) -> None:
        self.seq.pop(room, None)
        self._held.pop(room, None)
        self.listeners.pop(room, None)
        self.audience.pop(room, None)
        self.stale.discard(room)

    def begin(self, room: str, after: int | None) -> None:
        """A subscription to ``room`` is being asked for: hold its live events till the answer."""
        self.seq[room] = after if after is not None else self.seq.get(room, 0)
        self._held.setdefault(room, [])

    def resuming(self, room: str) -> int:
        """Start holding live events of ``room``; returns the ``after`` to resume from."""
        self._held.setdefault(room, [])
        return self.seq[room]

    def event(self, message: Message) -> list[Message]:
        """A pushed room event: what to hand over now (nothing if seen or held back)."""
        room = room_of(str(message.get("stream", "")))
        if room is None or room not in self.seq:
            return [message]
        if "seq" not in message:
            # Unnumbered (digests, audio levels): current state, never held or replayed.
            if message.get("name") == "audience.changed":
                self._digest(room, message.get("data") or {})
            return [message]
        held = self._held.get(room)
        if held is not None:
            held.append(message)
            return []
        return self._fresh(room, [message])

    def subscribed(self, room: str, result: Message) -> list[Message]:
        """The answer to ``subscribe``: start following ``room`` and return what to hand over.

        A snapshot replaces everything known about the room; it is handed over as a message
        ``{"type": "snapshot", "stream": "room:<id>", "snapshot": {...}}``, the same shape
        as the server's own "start over from here" message.
        """
        held = self._held.pop(room, [])
        out: list[Message] = []
        snapshot = result.get("snapshot")
        if isinstance(snapshot, dict):
            self.seq[room] = int(snapshot.get("seq", 0))
            self._snapshot(room, snapshot)
            out.append({"type": "snapshot", "stream": room_stream(room), "snapshot": snapshot})
        else:
            self.seq.setdefault(room, 0)
            out.extend(self._fresh(room, list(result.get("events") or [])))
        out.extend(self._fresh(room, held))
        return out

    def resynced(self, message: Message) -> list[Message]:
        """The server could not replay a gap and sent the room's state instead."""
        room = room_of(str(message.get("stream", "")))
        snapshot = message.get("snapshot")
        if room is None or room not in self.seq or not isinstance(snapshot, dict):
            return [message]
        self.seq[room] = int(snapshot.get("seq", 0))
        self._snapshot(room, snapshot)
        return [message, *self._fresh(room, self._held.pop(room, []))]

    def failed(self, room: str) -> list[Message]:
        """Resuming ``room`` was refused (it ended, we were removed): stop following it."""
        held = self._held.pop(room, [])
        self.seq.pop(room, None)
        return held

    def _fresh(self, room: str, events: list[Message]) -> list[Message]:
        out = []
        for e in sorted(events, key=lambda e: int(e.get("seq", 0))):
            seq = int(e.get("seq", 0))
            if seq > self.seq.get(room, 0):
                self.seq[room] = seq
                self._stage_event(room, e)
                out.append(e)
        return out

    # --- the audience -----------------------------------------------------------------------

    def _snapshot(self, room: str, snapshot: Message) -> None:
        self.listeners[room] = int(snapshot.get("listeners", 0))
        self.audience[room] = {
            m["username"]: m for m in snapshot.get("audience") or [] if isinstance(m, dict)
        }
        self.stale.discard(room)

    def _digest(self, room: str, data: Message) -> None:
        """A digest only touches the audience; the stage follows the numbered events."""
        self.listeners[room] = int(data.get("listeners", 0))
        known = self.audience.setdefault(room, {})
        for username in data.get("left") or []:
            known.pop(username, None)
        for m in data.get("members") or []:
            if isinstance(m, dict):
                known[m["username"]] = m
        if not data.get("complete", True):
            self.stale.add(room)

    def _stage_event(self, room: str, event: Message) -> None:
        known = self.audience.setdefault(room, {})
        name, data = event.get("name"), event.get("data") or {}
        if name == "member.updated" and isinstance(data.get("username"), str):
            if data.get("role") in STAGE_ROLES:
                if known.pop(data["username"], None) is not None:
                    self.listeners[room] = max(0, self.listeners.get(room, 0) - 1)
            else:
                if data["username"] not in known:
                    self.listeners[room] = self.listeners.get(room, 0) + 1
                known[data["username"]] = data
        elif name == "member.left":
            known.pop(str(data.get("username")), None)
        elif name == "audience.groups":
            followed = set(data.get("followed_by_speakers") or [])
            for username, m in known.items():
                group = "followed_by_speakers" if username in followed else "others"
                known[username] = {**m, "group": group}
