"""The signed-in person's sessions: list them, sign one device out or all of them."""

from __future__ import annotations

from fastapi import APIRouter, Path, Response

from townhall.api.deps import SESSION_COOKIE, ContainerDep, RestrictedViewerDep
from townhall.api.schemas import MAX_ID, OkOut, SessionOut
from townhall.api.views import session_out

router = APIRouter(prefix="/api/me", tags=["me"])


@router.get("/sessions", response_model=list[SessionOut])
async def list_sessions(viewer: RestrictedViewerDep, container: ContainerDep) -> list[SessionOut]:
    """Every device signed in as you. Secrets are never shown again."""
    sessions = await container.accounts.sessions(viewer.user)
    return [session_out(s, viewer.session.id) for s in sessions]


@router.delete("/sessions/{session_id}", response_model=OkOut)
async def revoke_session(
    viewer: RestrictedViewerDep,
    container: ContainerDep,
    response: Response,
    session_id: int = Path(ge=1, le=MAX_ID),
) -> OkOut:
    """Sign one device out."""
    await container.accounts.revoke_session(viewer.user, session_id)
    if session_id == viewer.session.id:
        response.delete_cookie(SESSION_COOKIE, path="/")
    return OkOut()


@router.delete("/sessions", response_model=OkOut)
async def revoke_all(
    viewer: RestrictedViewerDep,
    container: ContainerDep,
    response: Response,
    keep_current: bool = False,
) -> OkOut:
    """Sign out everywhere (``keep_current=true`` keeps this device signed in)."""
    keep = viewer.session.id if keep_current else None
    await container.accounts.revoke_all_sessions(viewer.user, keep)
    if not keep_current:
        response.delete_cookie(SESSION_COOKIE, path="/")
    return OkOut()
