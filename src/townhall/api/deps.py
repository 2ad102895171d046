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

SESSION_COOKIE = "townhall_session"

_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/auth/verify")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="The browser session")


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
    token = bearer.credentials if bearer else cookie
    if not token:
        raise Unauthenticated("not_signed_in", "Sign in to continue.")
    user, session = await get_container(request).accounts.authenticate(token)
    return Viewer(user, session)


async def optional_user(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
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
    if user.staff_role != "admin":
        raise Forbidden("not_staff", "Only instance administrators can do this.")
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
IpDep = Annotated[str, Depends(client_ip)]
