"""S3 search over HTTP: people, live rooms, clubs and upcoming events in one answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from townhall.api.deps import ContainerDep, MemberDep
from townhall.api.reads import MemberRead
from townhall.api.routes.clubs import ClubCardOut, _card
from townhall.api.routes.events import EventOut, event_out
from townhall.api.routes.hallway import HallwayRoomOut
from townhall.api.routes.people import PersonOut, person_out

router = APIRouter(tags=["search"])


class SearchAllOut(BaseModel):
    people: list[PersonOut] = Field(description="Members, as /api/users/search finds them.")
    rooms: list[HallwayRoomOut] = Field(
        description="Live rooms whose title matches, among those your hallway would show."
    )
    clubs: list[ClubCardOut]
    events: list[EventOut] = Field(
        description="Events to come (or started within the hour) that you may see."
    )


@router.get("/api/search", response_model=SearchAllOut)
async def search_all(
    user: MemberDep,
    _: MemberRead,
    container: ContainerDep,
    q: Annotated[
        str,
        Query(
            max_length=200,
            description="Words to look for; each is a prefix.",
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=20, description="Most results of each kind.")] = 8,
) -> Any:
    """Everything whose name, username, title, bio or description has words starting with
    the query's words (all of them). Someone you blocked, or who blocked you, is not found,
    nor are rooms and events you could not see in your hallway and lists."""
    found = await container.search.everything(user, q, limit)
    url = container.settings.resolved_public_url
    return SearchAllOut(
        people=[PersonOut(**person_out(p)) for p in found.people],
        rooms=[HallwayRoomOut.model_validate(r) for r in found.rooms],
        clubs=[ClubCardOut(**_card(c, url)) for c in found.clubs],
        events=[event_out(e) for e in found.events],
    )
