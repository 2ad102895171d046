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


class RoomStreams:
    """Follows subscribed rooms, drops events already seen, and holds back live events
    that arrive while a room is being resumed until its backlog has been handed over."""

    def __init__(self) -> None:
        self.seq: dict[str, int] = {}
        """The last event number handed over, per subscribed room."""
        self._held: dict[str, list[Message]] = {}

    def rooms(self) -> list[str]:
        return list(self.seq)

    def forget(self, room: str) -> None:
        self.seq.pop(room, None)
        self._held.pop(room, None)

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
                out.append(e)
        return out
