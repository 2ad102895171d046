"""S8 incident audio for staff: a report about a live room seals its audio; staff fetch it.

The media plane keeps each live room's buffer (``media/incident.py``). A report about the
room or someone in it (``Reports.listen``) asks, over the bus, whichever process holds the
room's audio to seal it under the report's id; a second report on the same room points at
the same recording. Staff read it back as Ogg Opus with its timeline. See docs/safety.md.
"""

from __future__ import annotations

import logging
from typing import Any

from townhall.bus import EventBus, channels
from townhall.errors import NotFound
from townhall.media.sealed import IncidentAudio, SealedStore

logger = logging.getLogger(__name__)


def incident_of(report_id: int) -> str:
    """The incident id a report's audio is kept under."""
    return f"report-{report_id}"


class IncidentAudios:
    def __init__(self, bus: EventBus, store: SealedStore) -> None:
        self._bus = bus
        self._store = store

    async def on_report(self, report_id: int, room_id: str, user_id: int | None) -> None:
        """A report about a live room (or someone in it) committed: seal the room's audio."""
        await self._bus.publish(
            channels.INCIDENTS, channels.seal_request(room_id, incident_of(report_id))
        )

    async def audio(self, report_id: int) -> IncidentAudio:
        found = await self._store.export(incident_of(report_id))
        if found is None:
            raise NotFound(
                "incident_audio_not_found", "There is no audio for this report (or no longer)."
            )
        return found

    async def timeline(self, report_id: int) -> dict[str, Any] | None:
        """The report's speaking timeline, or None when it has no audio."""
        return await self._store.timeline(incident_of(report_id))
