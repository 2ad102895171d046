"""S2.3 "let them in": share contacts as hashes, see waitlisted contacts, let one in."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field, StringConstraints

from townhall.api.deps import ContainerDep, MemberDep, UserDep
from townhall.api.pagination import Page, PageRequest, page_body, page_request
from townhall.api.schemas import OkOut, Strict, UserRef
from townhall.api.views import user_ref

router = APIRouter(tags=["waitlist"])

Username = Path(min_length=1, max_length=64, description="A username, with or without @.")
ContactHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
# The request itself is bounded here; the configured cap (contacts_max_hashes) is lower.
MAX_HASHES_IN_BODY = 50_000


def contacts_body_bytes(max_hashes: int) -> int:
    """The body cap of a contact upload: ``max_hashes`` quoted hashes, their commas and some
    room for spaces (the general 64 KiB cap holds fewer than a thousand)."""
    return max_hashes * 80 + 1024


class ContactsIn(Strict):
    hashes: list[ContactHash] = Field(
        max_length=MAX_HASHES_IN_BODY,
        description=(
            "For each address in your contacts, the lower-case hex SHA-256 of the address "
            "trimmed and lower-cased. Replaces what you shared before."
        ),
    )


class ContactsOut(BaseModel):
    shared: int = Field(
        description=(
            "How many distinct contacts you shared. Who is on Townhall is not counted here; "
            "waitlisted matches appear in /api/me/contacts/waitlisted."
        )
    )


class LetInOut(BaseModel):
    user: UserRef
    status: Literal["member"]


@router.put("/api/me/contacts", response_model=ContactsOut)
async def share_contacts(body: ContactsIn, user: MemberDep, container: ContainerDep) -> ContactsOut:
    """Match your hashed contacts against Townhall; only the matches are kept."""
    return ContactsOut(shared=await container.waitlist.share_contacts(user, body.hashes))


@router.delete("/api/me/contacts", response_model=OkOut)
async def forget_contacts(user: UserDep, container: ContainerDep) -> OkOut:
    """Forget every contact match you have."""
    await container.waitlist.forget_contacts(user)
    return OkOut()


@router.get("/api/me/contacts/waitlisted", response_model=Page[UserRef])
async def waitlisted_contacts(
    user: MemberDep, container: ContainerDep, page: PageRequest = page_request(str)
) -> Page[UserRef]:
    """People in your contacts who are on the waitlist, by username; you can let them in."""
    people, next_key = await container.waitlist.waitlisted_contacts(user, page.after, page.limit)
    return page_body([user_ref(u) for u in people], next_key)


@router.post("/api/waitlist/{username}/let-in", response_model=LetInOut)
async def let_in(user: MemberDep, container: ContainerDep, username: str = Username) -> LetInOut:
    """Let a waitlisted contact in without spending an invite; you become their nominator."""
    admitted = await container.waitlist.let_in(user, username)
    return LetInOut(user=user_ref(admitted), status="member")
