"""Request and response bodies shared by several routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)
from pydantic import Strict as PydanticStrict

from townhall.vocabulary import UserStatus

# Every integer id fits PostgreSQL's BIGINT and is exact as a JSON number (a double, as
# JavaScript reads it, and as the document's bounds are compared); larger is a 422.
MAX_ID = 2**53 - 1


def _whole(value: Any) -> Any:
    """``value`` with every whole number written with a fraction (``3.0``) as an int."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole(item) for item in value]
    return value


class Strict(BaseModel):
    """A request body: unknown fields are refused, and so are values of another JSON type
    (``0`` for a boolean, ``false`` or ``1.5`` for an integer, ``"1"`` for a number), as the
    OpenAPI document says. Fields whose JSON form is a string read into a richer type (times,
    enumerations) say so with ``Lax``. JSON has one type of number, so ``3.0`` is the integer
    3, as JSON Schema's ``integer`` says."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _whole_numbers(cls, data: Any) -> Any:
        return _whole(data) if isinstance(data, dict) else data


def _refuse_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("text may not contain NUL characters")
    return text


PlainText = Annotated[
    str, AfterValidator(_refuse_nul), Field(json_schema_extra={"pattern": r"^[^\x00]*$"})
]
"""Text kept as written that the user-facing text rules (``control_characters``) do not
read, such as staff's reasons: a NUL is 422 instead of a database error (PostgreSQL cannot
store one)."""


Lax = PydanticStrict(False)
"""``Annotated[datetime, Lax]``: read from its JSON string form inside a ``Strict`` body."""


class Out(BaseModel):
    """A response body read off a domain view's attributes (``Model.model_validate(view)``),
    the same for HTTP and the WebSocket (``townhall.api.views.as_json``)."""

    model_config = ConfigDict(from_attributes=True)


IsoTime = Annotated[datetime, PlainSerializer(lambda t: t.isoformat(), return_type=str)]
"""A time written as Python writes it (``2026-03-05T18:30:00.123456+00:00``): room events,
snapshots and notifications have always carried this form."""
WallClock = Annotated[
    datetime, PlainSerializer(lambda t: t.isoformat(timespec="minutes"), return_type=str)
]
"""A wall-clock time without a zone, to the minute (``2026-03-05T18:30``)."""


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


class UserRef(Out):
    """A person as shown everywhere: lists, stages, hosts, actors (``PersonView``)."""

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
    status: UserStatus
    staff_role: str | None
    invites_left: int
    show_nominator: bool
    created_at: datetime
    joined_at: datetime | None
    verified: bool = Field(False, description="Staff marked this a notable account.")
    suspended_until: datetime | None = Field(
        None, description="Staff suspended the account until then (in force while in the future)."
    )
    banned: bool = False


class SignedInOut(BaseModel):
    user: MeOut
    created: bool
    token: str | None = Field(None, description="Only for session='token': the bearer token.")
