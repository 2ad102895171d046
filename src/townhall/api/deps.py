"""Request dependencies: the container, the signed-in person, the client address."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from townhall.app import Container
from townhall.errors import Forbidden, Unauthenticated
from townhall.net import Network, client_address, limit_key, parse_networks
from townhall.storage.models import Session, User
from townhall.vocabulary import StaffRole

STAFF_ROLES = frozenset(StaffRole)

SESSION_COOKIE = "townhall_session"

_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/auth/verify")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="The browser session")
# The same two, for routes a visitor may also use: the document says so (api.contract).
_maybe_bearer = HTTPBearer(auto_error=False, scheme_name="OptionalHTTPBearer")
_maybe_cookie = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, scheme_name="OptionalAPIKeyCookie"
)


def get_container(request: Request) -> Container:
    return request.app.state.container


@dataclass(frozen=True)
class Viewer:
    user: User
    session: Session


async def current_viewer(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Viewer:
    """The signed-in person; a suspended or banned one is refused (403)."""
    token = bearer.credentials if bearer else cookie
    if not token:
        raise Unauthenticated("not_signed_in", "Sign in to continue.")
    user, session = await get_container(request).accounts.authenticate(token)
    return Viewer(user, session)


async def restricted_viewer(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Viewer:
    """The signed-in person even when suspended or banned: for the few routes about their
    own account (read it, export it, delete it, sign out; docs/safety.md)."""
    token = bearer.credentials if bearer else cookie
    if not token:
        raise Unauthenticated("not_signed_in", "Sign in to continue.")
    user, session = await get_container(request).accounts.authenticate(token, restricted_ok=True)
    return Viewer(user, session)


async def optional_user(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_maybe_bearer)],
    cookie: Annotated[str | None, Depends(_maybe_cookie)],
) -> User | None:
    """The signed-in person, or None for a visitor; a stale session is still a 401."""
    token = bearer.credentials if bearer else cookie
    if not token:
        return None
    user, _ = await get_container(request).accounts.authenticate(token)
    return user


async def current_user(viewer: Annotated[Viewer, Depends(current_viewer)]) -> User:
    return viewer.user


async def current_member(user: Annotated[User, Depends(current_user)]) -> User:
    if user.status != "member":
        raise Forbidden("not_a_member", "You are on the waitlist; members can do this.")
    return user


async def current_staff(user: Annotated[User, Depends(current_user)]) -> User:
    if user.staff_role != StaffRole.ADMIN:
        raise Forbidden("not_staff", "Only instance administrators can do this.")
    return user


async def current_safety_staff(user: Annotated[User, Depends(current_user)]) -> User:
    """Staff of either role: trust and safety, or an administrator (who may do everything)."""
    if user.staff_role not in STAFF_ROLES:
        raise Forbidden("not_staff", "Only staff can do this.")
    return user


@lru_cache(maxsize=8)
def _proxies(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(entries)


def client_ip(request: Request) -> str:
    """The client's address as rate limits count it (see ``townhall.net``): the rightmost
    ``X-Forwarded-For`` hop that is not one of ``trusted_proxies``, an IPv6 one by its /64."""
    proxies = _proxies(tuple(get_container(request).settings.trusted_proxies))
    peer = request.client.host if request.client else None
    # Every X-Forwarded-For line, in order, as one list: proxies may add a line each.
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    return limit_key(client_address(peer, forwarded, proxies))


ContainerDep = Annotated[Container, Depends(get_container)]
ViewerDep = Annotated[Viewer, Depends(current_viewer)]
UserDep = Annotated[User, Depends(current_user)]
OptionalUserDep = Annotated[User | None, Depends(optional_user)]
MemberDep = Annotated[User, Depends(current_member)]
StaffDep = Annotated[User, Depends(current_staff)]
SafetyStaffDep = Annotated[User, Depends(current_safety_staff)]
RestrictedViewerDep = Annotated[Viewer, Depends(restricted_viewer)]
IpDep = Annotated[str, Depends(client_ip)]
