"""S3 people: public profiles, follows, followers and following, blocks, search, suggestions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, cast

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from townhall.api.deps import ContainerDep, MemberDep, OptionalUserDep, UserDep
from townhall.api.pagination import Limit, Page, PageRequest, page_body, page_request
from townhall.api.reads import AnyoneRead, MemberRead
from townhall.api.schemas import UserRef
from townhall.api.views import user_ref
from townhall.domain.graph import (
    Person,
    PersonPage,
    Profile,
    Relationship,
    Suggestion,
)
from townhall.vocabulary import UserStatus

router = APIRouter(tags=["people"])

Username = Path(min_length=1, max_length=64, description="A username, with or without @.")
Status = UserStatus


class PersonOut(UserRef):
    """A person in a list or in search results."""

    bio: str
    status: Status
    you_follow: bool


class ListedPersonOut(PersonOut):
    since: datetime = Field(description="When they followed, were followed or were blocked.")


class SuggestionOut(PersonOut):
    reason: Literal["contact", "followed_by"]
    followed_by: list[str] = Field(description="Up to 3 people you follow who follow them.")
    followed_by_count: int = Field(description="How many people you follow follow them.")


class SearchOut(BaseModel):
    items: list[PersonOut]


class SuggestionsOut(BaseModel):
    items: list[SuggestionOut]


class RelationshipOut(BaseModel):
    username: str
    you_follow: bool
    follows_you: bool
    you_blocked: bool


class ProfileOut(BaseModel):
    """A public profile. The three relationship fields are null for visitors."""

    username: str
    display_name: str
    bio: str
    avatar_url: str | None
    links: dict[str, str]
    status: Status
    followers_count: int
    following_count: int
    joined_at: datetime | None = Field(description="When they became a member.")
    nominated_by: UserRef | None
    follows_you: bool | None
    you_follow: bool | None
    you_blocked: bool | None
    verified: bool = Field(False, description="Staff marked this a notable account.")
    shield: bool | None = Field(
        None, description="Blocked by several of the people you follow (docs/safety.md)."
    )


def person_out(person: Person) -> dict[str, Any]:
    u = person.user
    return {
        **user_ref(u).model_dump(),
        "bio": u.bio,
        "status": u.status,
        "you_follow": person.you_follow,
    }


def page_out(page: PersonPage) -> Page[ListedPersonOut]:
    return page_body(
        [ListedPersonOut(**person_out(p), since=p.since) for p in page.people], page.next_key
    )


def relationship_out(rel: Relationship) -> RelationshipOut:
    return RelationshipOut(
        username=rel.username,
        you_follow=rel.you_follow,
        follows_you=rel.follows_you,
        you_blocked=rel.you_blocked,
    )


def profile_out(profile: Profile) -> ProfileOut:
    u, rel = profile.user, profile.relationship
    return ProfileOut(
        **user_ref(u).model_dump(),
        bio=u.bio,
        links=dict(u.links or {}),
        status=UserStatus(u.status),
        followers_count=profile.followers,
        following_count=profile.following,
        joined_at=u.joined_at,
        nominated_by=user_ref(profile.nominator) if profile.nominator else None,
        follows_you=rel.follows_you if rel else None,
        you_follow=rel.you_follow if rel else None,
        you_blocked=rel.you_blocked if rel else None,
        verified=u.verified,
        shield=profile.shield,
    )


def suggestion_out(s: Suggestion) -> SuggestionOut:
    return SuggestionOut(
        **person_out(Person(s.user, you_follow=False)),
        reason=cast(Literal["contact", "followed_by"], s.reason),
        followed_by=s.followed_by,
        followed_by_count=s.followed_by_count,
    )


ByTimeAndId = page_request(datetime, int)


# Declared before /api/users/{username}, which would otherwise take "search" as a name.
@router.get("/api/users/search", response_model=SearchOut)
async def search_people(
    user: MemberDep,
    _: MemberRead,
    container: ContainerDep,
    q: str = Query(
        max_length=200,
        description="Words to look for; each is a prefix.",
    ),
    limit: int = Limit,
) -> SearchOut:
    """People whose username, display name or bio have words starting with the query's."""
    found = await container.graph.search(user, q, limit)
    return SearchOut(items=[PersonOut(**person_out(p)) for p in found])


@router.get("/api/users/{username}", response_model=ProfileOut)
async def get_profile(
    viewer: OptionalUserDep, _: AnyoneRead, container: ContainerDep, username: str = Username
) -> ProfileOut:
    """A member's public profile; open to visitors, like a share link. Someone on the
    waitlist is found only by themselves and staff."""
    return profile_out(await container.graph.profile(viewer, username))


@router.put("/api/users/{username}/follow", response_model=RelationshipOut)
async def follow(
    user: MemberDep, container: ContainerDep, username: str = Username
) -> RelationshipOut:
    """Follow someone; following again changes nothing."""
    return relationship_out(await container.graph.follow(user, username))


@router.delete("/api/users/{username}/follow", response_model=RelationshipOut)
async def unfollow(
    user: MemberDep, container: ContainerDep, username: str = Username
) -> RelationshipOut:
    """Stop following someone; unfollowing again changes nothing."""
    return relationship_out(await container.graph.unfollow(user, username))


@router.get("/api/users/{username}/followers", response_model=Page[ListedPersonOut])
async def followers(
    user: MemberDep,
    _: MemberRead,
    container: ContainerDep,
    username: str = Username,
    page: PageRequest = ByTimeAndId,
) -> Page[ListedPersonOut]:
    """Who follows this person, newest first."""
    return page_out(await container.graph.followers(user, username, page.after, page.limit))


@router.get("/api/users/{username}/following", response_model=Page[ListedPersonOut])
async def following(
    user: MemberDep,
    _: MemberRead,
    container: ContainerDep,
    username: str = Username,
    page: PageRequest = ByTimeAndId,
) -> Page[ListedPersonOut]:
    """Whom this person follows, newest first."""
    return page_out(await container.graph.following(user, username, page.after, page.limit))


@router.put("/api/users/{username}/block", response_model=RelationshipOut)
async def block(
    user: UserDep, container: ContainerDep, username: str = Username
) -> RelationshipOut:
    """Block someone: follows both ways end and each is hidden from the other."""
    return relationship_out(await container.graph.block(user, username))


@router.delete("/api/users/{username}/block", response_model=RelationshipOut)
async def unblock(
    user: UserDep, container: ContainerDep, username: str = Username
) -> RelationshipOut:
    """Lift a block. Follows it ended stay ended."""
    return relationship_out(await container.graph.unblock(user, username))


@router.get("/api/me/blocks", response_model=Page[ListedPersonOut])
async def my_blocks(
    user: UserDep, container: ContainerDep, page: PageRequest = ByTimeAndId
) -> Page[ListedPersonOut]:
    """The people you blocked, most recent first."""
    return page_out(await container.graph.blocked(user, page.after, page.limit))


@router.get("/api/me/suggestions", response_model=SuggestionsOut)
async def suggestions(
    user: MemberDep,
    container: ContainerDep,
    limit: int = Query(20, ge=1, le=50, description="How many suggestions (1 to 50)."),
) -> SuggestionsOut:
    """People to follow: your contacts who are members, then friends of friends."""
    return SuggestionsOut(
        items=[suggestion_out(s) for s in await container.graph.suggestions(user, limit)]
    )
