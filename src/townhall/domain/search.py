"""S3 search: people, live rooms, clubs and upcoming events for one query, each as the
person may see it (docs/graph.md, "Search").

Every part reads the query the same way (``graph.search_words``: word prefixes, letters and
digits only) and uses the database's own full-text engine (``storage/search.py``,
``storage/clubs.py``). What each part leaves out is decided where that thing's rules live:
people with a block either way by the people search, rooms by the hallway's entry rules,
events by their listing rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from townhall.domain.clubs.service import Clubs
from townhall.domain.events import Events, EventView
from townhall.domain.graph import Graph, Person, search_words
from townhall.domain.hallway import Hallway, HallwayRoom
from townhall.domain.invites import require_member
from townhall.storage.models import Club, User


@dataclass(frozen=True)
class Found:
    people: list[Person]
    rooms: list[HallwayRoom]
    clubs: list[Club]
    events: list[EventView]


class Search:
    def __init__(self, graph: Graph, hallway: Hallway, clubs: Clubs, events: Events) -> None:
        self._graph = graph
        self._hallway = hallway
        self._clubs = clubs
        self._events = events

    async def everything(self, viewer: User, query: str, limit: int) -> Found:
        """Up to ``limit`` of each kind, best match first. Members only."""
        require_member(viewer)
        words, _ = search_words(query)
        return Found(
            people=await self._graph.search(viewer, query, limit),
            rooms=await self._hallway.search(viewer, words, limit),
            clubs=await self._clubs.search(query, limit),
            events=await self._events.search(viewer, words, limit),
        )
