"""S6 the hallway over HTTP: upcoming events and live rooms, ranked for you."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from townhall.api.deps import ContainerDep, MemberDep
from townhall.api.routes.events import EventOut
from townhall.api.routes.rooms import RoomCardOut
from townhall.api.schemas import Out

router = APIRouter(tags=["hallway"])


class HallwayRoomOut(RoomCardOut):
    reason: Literal["followed_on_stage", "followed_listening", "club", "popular", "topic"] = Field(
        description="What counts most for this room's place (docs/hallway.md)."
    )
    score: float


class HallwayOut(Out):
    events: list[EventOut] = Field(description="Upcoming events for you, soonest first.")
    rooms: list[HallwayRoomOut] = Field(description="Live rooms you may join, best first.")
    hidden_rooms: int = Field(description="Rooms not shown: someone you blocked is on stage.")


@router.get("/api/hallway", response_model=HallwayOut)
async def hallway(
    user: MemberDep,
    container: ContainerDep,
    limit: Annotated[int, Query(ge=1, le=100, description="Most rooms to list.")] = 30,
) -> Any:
    """Your home feed. A `hallway.changed` message on the WebSocket says it is worth
    fetching again (docs/protocol.md)."""
    return HallwayOut.model_validate(await container.hallway.build(user, limit))
