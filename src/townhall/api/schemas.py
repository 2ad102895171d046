"""Request and response bodies shared by several routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Every integer id in a path fits PostgreSQL's BIGINT; larger numbers are a 422, not a crash.
MAX_ID = 2**63 - 1


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    error: ErrorDetail


class OkOut(BaseModel):
    ok: bool = True


class SessionOut(BaseModel):
    id: int
    kind: Literal["cookie", "token"]
    name: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    current: bool


class UserRef(BaseModel):
    """A person as shown in lists."""

    username: str
    display_name: str
    avatar_url: str | None


class MeOut(BaseModel):
    """The signed-in person's own account, including private fields."""

    username: str
    email: str
    display_name: str
    bio: str
    avatar_url: str | None
    links: dict[str, str]
    status: Literal["waitlisted", "member"]
    staff_role: str | None
    invites_left: int
    show_nominator: bool
    created_at: datetime
    joined_at: datetime | None


class SignedInOut(BaseModel):
    user: MeOut
    created: bool
    token: str | None = Field(None, description="Only for session='token': the bearer token.")
