"""S5 signalling: the offer/answer exchange and trickled candidates for a room's audio."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from townhall.api.deps import ContainerDep, UserDep, ViewerDep
from townhall.api.routes.rooms import RoomId
from townhall.api.schemas import OkOut, Strict
from townhall.media.backend import MAX_SDP_CHARS

router = APIRouter(tags=["voice"])

SessionId = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_-]{1,32}$", description="An audio connection's id.")
]


class IceServerOut(BaseModel):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class MediaConfigOut(BaseModel):
    ice_servers: list[IceServerOut]
    expires_at: datetime | None = Field(
        None, description="When the TURN credentials in it stop working; ask again before."
    )
    ice_transport_policy: Literal["relay"] | None = Field(
        None,
        description='`"relay"`: give it to `RTCPeerConnection` as `iceTransportPolicy`, the '
        "audio must go through the TURN servers given. Absent: any path (`all`).",
    )


class OfferIn(Strict):
    type: Literal["offer"]
    sdp: str = Field(min_length=1, max_length=MAX_SDP_CHARS)


class AnswerOut(BaseModel):
    type: Literal["answer"]
    sdp: str
    session: str = Field(description="Names this connection for candidates and hang-up.")


class CandidateIn(Strict):
    candidate: str = Field(max_length=1000, description='An ICE candidate line; "" ends them.')
    sdpMid: str | None = Field(None, max_length=32)
    sdpMLineIndex: int | None = Field(None, ge=0, le=15)


@router.get("/api/media/config", response_model=MediaConfigOut, response_model_exclude_none=True)
async def media_config(user: UserDep, container: ContainerDep) -> Any:
    """The ICE servers anyone signed in may use: those without a credential (STUN). TURN
    servers come with credentials from a room's `/media/config`."""
    return container.voice.config()


@router.get(
    "/api/rooms/{room_id}/media/config",
    response_model=MediaConfigOut,
    response_model_exclude_none=True,
)
async def room_media_config(room_id: RoomId, user: UserDep, container: ContainerDep) -> Any:
    """The ICE servers to give `RTCPeerConnection` for this room's audio, TURN included with
    short-lived credentials of your own: for members in the room only."""
    return await container.voice.room_config(user, room_id)


@router.post("/api/rooms/{room_id}/media", response_model=AnswerOut)
async def connect_audio(
    room_id: RoomId, body: OfferIn, viewer: ViewerDep, container: ContainerDep
) -> Any:
    """Open (or replace) your audio connection to a room you are in: send an offer with one
    audio stream (receive-only as a listener, send-and-receive on stage), get the answer."""
    return await container.voice.connect(viewer.user, room_id, body.sdp, viewer.session.id)


@router.post("/api/rooms/{room_id}/media/{session}/candidates", response_model=OkOut)
async def add_candidate(
    room_id: RoomId, session: SessionId, body: CandidateIn, user: UserDep, container: ContainerDep
) -> OkOut:
    """A trickled ICE candidate of yours for that connection."""
    await container.voice.add_candidate(
        user, room_id, session, body.candidate, body.sdpMid, body.sdpMLineIndex
    )
    return OkOut()


@router.delete("/api/rooms/{room_id}/media/{session}", response_model=OkOut)
async def hang_up(
    room_id: RoomId, session: SessionId, user: UserDep, container: ContainerDep
) -> OkOut:
    """Close that audio connection (leaving the room closes it too)."""
    await container.voice.hang_up(user, room_id, session)
    return OkOut()
