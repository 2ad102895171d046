"""Sign-in with an emailed code or an operator's link; sign-out."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from pydantic import Field

from townhall.api.deps import SESSION_COOKIE, ContainerDep, IpDep, RestrictedViewerDep
from townhall.api.schemas import OkOut, SignedInOut, Strict
from townhall.api.views import me_out
from townhall.app import Container
from townhall.domain.accounts import SignedIn

router = APIRouter(prefix="/api/auth", tags=["auth"])
pages = APIRouter(include_in_schema=False)

WEB = Path(__file__).resolve().parents[2] / "web"


class CodeIn(Strict):
    email: str = Field(max_length=320, examples=["ada@example.org"])


class CodeSentOut(Strict):
    sent: bool = True
    expires_in: int


class VerifyIn(Strict):
    email: str = Field(max_length=320)
    code: str = Field(min_length=1, max_length=12)
    username: str | None = Field(None, max_length=40, description="Needed at first sign-in.")
    invite: str | None = Field(None, max_length=200, description="Token of an invite link.")
    session: Literal["cookie", "token"] = "cookie"
    device: str = Field("", max_length=100)


class LinkIn(Strict):
    token: str = Field(min_length=1, max_length=200)
    session: Literal["cookie", "token"] = "cookie"
    device: str = Field("", max_length=100)


def set_session_cookie(response: Response, container: Container, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=container.settings.session_ttl_days * 86400,
        httponly=True,
        samesite="lax",
        secure=container.settings.secure_cookies,
        path="/",
    )


def signed_in(response: Response, container: Container, result: SignedIn) -> SignedInOut:
    if result.session.kind == "cookie":
        set_session_cookie(response, container, result.token)
        return SignedInOut(user=me_out(result.user), created=result.created, token=None)
    return SignedInOut(user=me_out(result.user), created=result.created, token=result.token)


@router.post("/code", status_code=202, response_model=CodeSentOut)
async def request_code(body: CodeIn, container: ContainerDep, ip: IpDep) -> CodeSentOut:
    """Mail a one-time sign-in code. The answer is the same for known and unknown addresses."""
    await container.accounts.request_code(body.email, ip)
    return CodeSentOut(expires_in=container.settings.code_ttl_seconds)


@router.post("/verify", response_model=SignedInOut)
async def verify(
    body: VerifyIn, request: Request, response: Response, container: ContainerDep, ip: IpDep
) -> SignedInOut:
    """Exchange the code for a session. New addresses must choose a username."""
    result = await container.accounts.verify_code(
        body.email,
        body.code,
        ip,
        kind=body.session,
        device=body.device or request.headers.get("user-agent", "")[:100],
        username=body.username,
        invite_token=body.invite,
    )
    return signed_in(response, container, result)


@router.post("/link", response_model=SignedInOut)
async def use_link(
    body: LinkIn, request: Request, response: Response, container: ContainerDep, ip: IpDep
) -> SignedInOut:
    """Sign in with a one-time link printed by an operator."""
    result = await container.accounts.use_sign_in_link(
        body.token,
        ip,
        kind=body.session,
        device=body.device or request.headers.get("user-agent", "")[:100],
    )
    return signed_in(response, container, result)


@router.post("/signout", response_model=OkOut)
async def sign_out(
    viewer: RestrictedViewerDep, response: Response, container: ContainerDep
) -> OkOut:
    """End the current session."""
    await container.accounts.revoke_session(viewer.user, viewer.session.id)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return OkOut()


@pages.get("/signin/{token}")
async def sign_in_page(token: str) -> FileResponse:
    """The browser side of an operator's sign-in link: the web app, which asks the person to
    confirm and then signs in with ``POST /api/auth/link``. Following the link signs no one
    in, so a page elsewhere cannot sign a visitor into an account of its choosing."""
    return FileResponse(
        WEB / "index.html", headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )
