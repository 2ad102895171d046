"""S7 clubs over HTTP: found, edit, icon, join, follow, members, requests, roles, search."""

from __future__ import annotations

import re
from datetime import datetime
from html import escape
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from townhall.api.deps import ContainerDep, MemberDep, OptionalUserDep, UserDep
from townhall.api.pagination import Page, PageRequest, page_body, page_request
from townhall.api.reads import MemberRead
from townhall.api.routes.me import AVATAR_BODY, avatar_upload
from townhall.api.routes.rooms import AcceptLanguage
from townhall.api.schemas import MAX_ID, Lax, OkOut, Strict, UserRef
from townhall.api.share import Card, join_button, nowhere, public_page, words_for
from townhall.api.views import user_ref
from townhall.domain.clubs import rules as limits
from townhall.domain.clubs.service import ClubEdit, ClubView
from townhall.domain.views import file_url
from townhall.errors import NotFound
from townhall.storage.models import Club
from townhall.vocabulary import ClubPolicy, ClubRole

router = APIRouter(prefix="/api/clubs", tags=["clubs"])
pages = APIRouter(include_in_schema=False)

ClubId = Annotated[int, Path(ge=1, le=MAX_ID, description="A club's id.")]
Username = Annotated[str, Path(min_length=1, max_length=64, description="A username.")]
Policy = Annotated[ClubPolicy, Lax]
Role = Annotated[ClubRole, Lax]
RequestKind = Literal["applied", "invited", "nominated"]


class FoundClubIn(Strict):
    name: str = Field(max_length=limits.NAME_MAX * 2)
    description: str = Field("", max_length=limits.DESCRIPTION_MAX * 2)
    rules: list[Annotated[str, Field(max_length=limits.RULE_MAX * 2)]] = Field(
        default_factory=list, max_length=limits.RULES_MAX
    )
    policy: Policy = ClubPolicy.OPEN


class EditClubIn(Strict):
    """Fields left out stay as they are (the founder only)."""

    name: str | None = Field(None, max_length=limits.NAME_MAX * 2)
    description: str | None = Field(None, max_length=limits.DESCRIPTION_MAX * 2)
    rules: list[Annotated[str, Field(max_length=limits.RULE_MAX * 2)]] | None = Field(
        None, max_length=limits.RULES_MAX
    )
    policy: Policy | None = None


class UsernameIn(Strict):
    username: str = Field(min_length=1, max_length=64)


class RoleIn(Strict):
    role: Literal["admin", "leader", "member"]


class ClubCardOut(BaseModel):
    id: int
    name: str
    description: str
    icon_url: str | None
    policy: Policy
    url: str


class ClubOut(ClubCardOut):
    rules: list[str]
    founder: UserRef | None
    members: int
    followers: int
    created_at: datetime
    my_role: Role | None = Field(description="Your role in the club; null when you have none.")
    my_request: RequestKind | None = Field(
        description="What is pending for you: your application, an invitation, a nomination."
    )


class MyClubOut(ClubCardOut):
    my_role: Role


class ClubMemberOut(UserRef):
    role: Role
    since: datetime


class ClubRequestOut(UserRef):
    kind: RequestKind
    since: datetime


class ClubSearchOut(BaseModel):
    items: list[ClubCardOut]


def _card(club: Club, public_url: str) -> dict[str, Any]:
    return {
        "id": club.id,
        "name": club.name,
        "description": club.description,
        "icon_url": file_url(club.icon),
        "policy": club.policy,
        "url": f"{public_url}/c/{club.id}",
    }


def club_out(view: ClubView, public_url: str) -> ClubOut:
    c = view.club
    return ClubOut(
        **_card(c, public_url),
        rules=list(c.rules or []),
        founder=user_ref(view.founder) if view.founder else None,
        members=view.members,
        followers=view.followers,
        created_at=c.created_at,
        my_role=view.my_role,  # type: ignore[arg-type]
        my_request=view.my_request,  # type: ignore[arg-type]
    )


@router.post("", status_code=201, response_model=ClubOut)
async def found_club(body: FoundClubIn, user: MemberDep, container: ContainerDep) -> ClubOut:
    """Found a club (after hosting enough rooms); you are its founder."""
    view = await container.clubs.found(user, body.name, body.description, body.rules, body.policy)
    return club_out(view, container.settings.resolved_public_url)


@router.get("/search", response_model=ClubSearchOut)
async def search_clubs(
    user: MemberDep,
    _: MemberRead,
    container: ContainerDep,
    q: Annotated[
        str,
        Query(min_length=1, max_length=100),
    ],
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> Any:
    """Clubs whose name or description has every word of ``q`` (as a word prefix)."""
    url = container.settings.resolved_public_url
    return {"items": [_card(c, url) for c in await container.clubs.search(q, limit)]}


@router.get("/mine", response_model=Page[MyClubOut])
async def my_clubs(
    user: UserDep,
    container: ContainerDep,
    following: Annotated[bool, Query(description="Also the clubs you only follow.")] = False,
    page: PageRequest = page_request(int),
) -> Any:
    """The clubs you belong to (and, with ``following``, the ones you follow)."""
    rows, next_key = await container.clubs.mine(user, following, page.after, page.limit)
    url = container.settings.resolved_public_url
    return page_body([{**_card(c, url), "my_role": role} for c, role in rows], next_key)


@router.get("/{club_id}", response_model=ClubOut)
async def get_club(club_id: ClubId, viewer: OptionalUserDep, container: ContainerDep) -> ClubOut:
    """A club's page: name, description, rules, icon, policy, counts and your place in it."""
    view = await container.clubs.get(viewer, club_id)
    return club_out(view, container.settings.resolved_public_url)


@router.patch("/{club_id}", response_model=ClubOut)
async def edit_club(
    club_id: ClubId, body: EditClubIn, user: UserDep, container: ContainerDep
) -> ClubOut:
    """Change the name, description, rules or membership policy (the founder only)."""
    changes = ClubEdit(
        name=body.name, description=body.description, rules=body.rules, policy=body.policy
    )
    view = await container.clubs.edit(user, club_id, changes)
    return club_out(view, container.settings.resolved_public_url)


@router.put("/{club_id}/icon", response_model=ClubOut, openapi_extra=AVATAR_BODY)
async def set_club_icon(
    club_id: ClubId,
    data: Annotated[bytes, Depends(avatar_upload)],
    user: UserDep,
    container: ContainerDep,
) -> ClubOut:
    """Upload the club's icon (the founder only); it is processed like an avatar."""
    view = await container.clubs.set_icon(user, club_id, data)
    return club_out(view, container.settings.resolved_public_url)


@router.post("/{club_id}/join", response_model=ClubOut)
async def join_club(club_id: ClubId, user: MemberDep, container: ContainerDep) -> ClubOut:
    """Join an open club, accept an invitation, or apply to a club by approval."""
    view = await container.clubs.join(user, club_id)
    return club_out(view, container.settings.resolved_public_url)


@router.delete("/{club_id}/request", response_model=ClubOut)
async def withdraw_request(club_id: ClubId, user: UserDep, container: ContainerDep) -> ClubOut:
    """Withdraw your application, or decline an invitation or nomination."""
    view = await container.clubs.withdraw(user, club_id)
    return club_out(view, container.settings.resolved_public_url)


@router.post("/{club_id}/leave", response_model=ClubOut)
async def leave_club(club_id: ClubId, user: UserDep, container: ContainerDep) -> ClubOut:
    """Stop being a member (the founder cannot)."""
    view = await container.clubs.leave(user, club_id)
    return club_out(view, container.settings.resolved_public_url)


@router.put("/{club_id}/follow", response_model=ClubOut)
async def follow_club(club_id: ClubId, user: MemberDep, container: ContainerDep) -> ClubOut:
    """Follow the club: see its public rooms and events, and hear when they start."""
    view = await container.clubs.follow(user, club_id)
    return club_out(view, container.settings.resolved_public_url)


@router.delete("/{club_id}/follow", response_model=ClubOut)
async def unfollow_club(club_id: ClubId, user: UserDep, container: ContainerDep) -> ClubOut:
    view = await container.clubs.unfollow(user, club_id)
    return club_out(view, container.settings.resolved_public_url)


@router.get("/{club_id}/members", response_model=Page[ClubMemberOut])
async def club_members(
    club_id: ClubId,
    user: MemberDep,
    _: MemberRead,
    container: ContainerDep,
    followers: Annotated[bool, Query(description="The followers instead of the members.")] = False,
    page: PageRequest = page_request(datetime, int),
) -> Any:
    """The club's members (or followers), longest-standing first."""
    rows, next_key = await container.clubs.members(club_id, followers, page.after, page.limit)
    return page_body(
        [{**user_ref(u).model_dump(), "role": m.role, "since": m.created_at} for m, u in rows],
        next_key,
    )


@router.get("/{club_id}/requests", response_model=Page[ClubRequestOut])
async def club_requests(
    club_id: ClubId,
    user: UserDep,
    container: ContainerDep,
    page: PageRequest = page_request(datetime, int),
) -> Any:
    """Pending applications, nominations and invitations (admins and the founder)."""
    rows, next_key = await container.clubs.requests(user, club_id, page.after, page.limit)
    return page_body(
        [{**user_ref(u).model_dump(), "kind": r.kind, "since": r.created_at} for r, u in rows],
        next_key,
    )


@router.post("/{club_id}/invitations", response_model=OkOut)
async def invite_to_club(
    club_id: ClubId, body: UsernameIn, user: UserDep, container: ContainerDep
) -> OkOut:
    """Invite someone (admins and the founder); they join by accepting."""
    await container.clubs.invite(user, club_id, body.username)
    return OkOut()


@router.post("/{club_id}/nominations", response_model=OkOut)
async def nominate_for_club(
    club_id: ClubId, body: UsernameIn, user: UserDep, container: ContainerDep
) -> OkOut:
    """Propose someone for membership; the club's admins decide."""
    await container.clubs.nominate(user, club_id, body.username)
    return OkOut()


@router.post("/{club_id}/requests/{username}/approve", response_model=OkOut)
async def approve_request(
    club_id: ClubId, username: Username, user: UserDep, container: ContainerDep
) -> OkOut:
    """Let in someone who applied or was nominated."""
    await container.clubs.approve(user, club_id, username)
    return OkOut()


@router.post("/{club_id}/requests/{username}/reject", response_model=OkOut)
async def reject_request(
    club_id: ClubId, username: Username, user: UserDep, container: ContainerDep
) -> OkOut:
    """Turn down an application or nomination, or take back an invitation."""
    await container.clubs.reject(user, club_id, username)
    return OkOut()


@router.patch("/{club_id}/members/{username}", response_model=OkOut)
async def change_role(
    club_id: ClubId, username: Username, body: RoleIn, user: UserDep, container: ContainerDep
) -> OkOut:
    """Make a member an admin, a leader or a plain member."""
    await container.clubs.set_role(user, club_id, username, body.role)
    return OkOut()


@router.delete("/{club_id}/members/{username}", response_model=OkOut)
async def remove_member(
    club_id: ClubId, username: Username, user: UserDep, container: ContainerDep
) -> OkOut:
    """Remove a member from the club."""
    await container.clubs.remove(user, club_id, username)
    return OkOut()


CLUB_ID = re.compile(r"[1-9][0-9]{0,17}")


@pages.get("/c/{club_id}", response_class=HTMLResponse)
async def share_page(
    club_id: str, container: ContainerDep, accept_language: AcceptLanguage = None
) -> HTMLResponse:
    """A club's public link: its name, description, rules and size, and a way to sign in
    that comes back to the club, in the visitor's language."""
    words = words_for(accept_language)
    public_url = container.settings.resolved_public_url
    view = None
    if CLUB_ID.fullmatch(club_id) and int(club_id) <= MAX_ID:
        try:
            view = await container.clubs.get(None, int(club_id))
        except NotFound:
            view = None
    if view is None:
        return nowhere(words, public_url, f"/c/{club_id[:18]}")
    c = view.club
    rules_html = "".join(f'<li dir="auto">{escape(r)}</li>\n' for r in c.rules or [])
    counts = (
        f"{words.tn('club.members_count', view.members)} · "
        f"{words.tn('club.followers_count', view.followers)}"
    )
    page = f'<h1 dir="auto">{escape(c.name)}</h1>\n'
    if c.description:
        page += f'<p dir="auto">{escape(c.description)}</p>\n'
    if rules_html:
        page += f'<h2>{escape(words.t("club.rules"))}</h2>\n<ol class="rules">\n{rules_html}</ol>\n'
    page += f'<p class="members">{escape(counts)}</p>\n'
    page += join_button(words, f"/club/{c.id}", "share.sign_in_to_see")
    card = Card(c.name, c.description or counts, f"{public_url}/c/{c.id}")
    return public_page(words, card, page, public_url)
