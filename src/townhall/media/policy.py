"""Who may be heard in a room, as the control plane last said it.

The media plane keeps, per room, the people on stage and whether each is muted, seeded
from the database when the room's first media session starts and then moved along by the
room's own numbered events (``member.updated``, ``member.joined``, ``member.left``,
``room.ended``). An event no newer than what is already known is ignored, so the seed and
the live stream can overlap in either order. Listeners are not in the log: one who leaves
the room is told on its roster (``apply_roster``), and their audio ends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from townhall.bus import channels
from townhall.vocabulary import STAGE_ROLES


@dataclass
class StageState:
    seq: int
    live: bool
    stage: dict[str, bool]
    """username -> muted, for everyone on stage."""


@dataclass
class RoomPolicy:
    seq: int = -1
    live: bool = True
    stage: dict[str, bool] = field(default_factory=dict)
    on_change: Callable[[str, str], None] | None = None
    """Called with (username, what) after a change: what is "stage", "left" or "ended"."""

    def seed(self, state: StageState) -> None:
        if state.seq <= self.seq:
            return
        self.seq = state.seq
        self.live = state.live
        before = set(self.stage)
        self.stage = dict(state.stage)
        for username in before | set(self.stage):
            self._tell(username, "stage")
        if not self.live:
            self._tell("", "ended")

    def may_speak(self, username: str) -> bool:
        """On stage and unmuted: the only audio the room hears."""
        return self.live and self.stage.get(username) is False

    def on_stage(self, username: str) -> bool:
        return username in self.stage

    def apply(self, payload: str) -> None:
        """Move along with one room event's wire text (ignores anything else)."""
        event = channels.read_room_event(payload)
        if event is None:
            return
        seq, name, data = event.seq, event.name, event.data
        if seq <= self.seq:
            return
        self.seq = seq
        if name in ("member.updated", "member.joined"):
            username = data.get("username")
            if not isinstance(username, str):
                return
            if data.get("role") in STAGE_ROLES:
                self.stage[username] = bool(data.get("muted", True))
            else:
                self.stage.pop(username, None)
            self._tell(username, "stage")
        elif name == "member.left":
            username = data.get("username")
            if isinstance(username, str):
                self.stage.pop(username, None)
                self._tell(username, "left")
        elif name == "room.ended":
            self.live = False
            self.stage.clear()
            self._tell("", "ended")

    def apply_roster(self, payload: str) -> None:
        """A listener came, changed or went (``channels.roster_change``)."""
        change = channels.read_roster(payload)
        if change is not None and change.went and change.username not in self.stage:
            self._tell(change.username, "left")

    def _tell(self, username: str, what: str) -> None:
        if self.on_change is not None:
            self.on_change(username, what)
