"""Item 12: TURN credentials are minted per person in coturn's REST-API scheme, expire, and
are handed only to members in the room; the shared secret never leaves the server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from datetime import datetime
from typing import Any

import pytest

from tests.api.roomkit import code, create, join, ok
from tests.conftest import FakeClock
from townhall.config import load_settings
from townhall.errors import ConfigError

SECRET = "coturn-shared-secret-4f9a1c"
TURN_URLS = ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"]
STUN = {"urls": ["stun:stun.example.org:3478"]}

pytestmark = pytest.mark.settings(
    media_turn_urls=TURN_URLS,
    media_turn_secret=SECRET,
    media_turn_ttl_seconds=600,
    media_ice_servers=[STUN],
)


def turn_entry(body: dict[str, Any]) -> dict[str, Any]:
    (entry,) = [s for s in body["ice_servers"] if s["urls"] == TURN_URLS]
    return dict(entry)


def coturn_accepts(entry: dict[str, Any], now: datetime) -> bool:
    """What coturn's use-auth-secret does: the password is the HMAC of the username, and
    the username's leading timestamp is not past."""
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), entry["username"].encode(), hashlib.sha1).digest()
    ).decode()
    expiry = int(entry["username"].split(":", 1)[0])
    return hmac.compare_digest(expected, entry["credential"]) and expiry > now.timestamp()


async def room_with_listener(people: Any) -> tuple[str, Any, Any]:
    ann, liz = await people.member("ann"), await people.member("liz")
    rid = (await create(ann, title="Turn"))["id"]
    await join(liz, rid)
    return rid, ann, liz


async def test_a_member_in_the_room_gets_a_credential_coturn_accepts(
    people: Any, clock: FakeClock
) -> None:
    """The credential verifies with the shared secret and carries the person, not a name."""
    rid, ann, liz = await room_with_listener(people)
    r = await liz.get(f"/api/rooms/{rid}/media/config")
    assert r.status_code == 200, r.text
    body = r.json()
    assert STUN in body["ice_servers"]
    entry = turn_entry(body)
    assert coturn_accepts(entry, clock.now())
    person = entry["username"].split(":", 1)[1]
    assert person and "liz" not in person
    speaker = turn_entry((await ann.get(f"/api/rooms/{rid}/media/config")).json())
    assert speaker["username"].split(":", 1)[1] != person


async def test_a_credential_expires_as_configured(people: Any, clock: FakeClock) -> None:
    """The username's expiry is now + media_turn_ttl_seconds; past it coturn refuses, and a
    new ask gives a new credential."""
    rid, _, liz = await room_with_listener(people)
    start = clock.now()
    body = (await liz.get(f"/api/rooms/{rid}/media/config")).json()
    entry = turn_entry(body)
    assert int(entry["username"].split(":", 1)[0]) == int(start.timestamp()) + 600
    assert datetime.fromisoformat(body["expires_at"]).timestamp() == int(start.timestamp()) + 600
    clock.advance(seconds=601)
    assert not coturn_accepts(entry, clock.now())
    fresh = turn_entry((await liz.get(f"/api/rooms/{rid}/media/config")).json())
    assert coturn_accepts(fresh, clock.now())


async def test_nobody_outside_the_room_gets_a_credential(people: Any) -> None:
    """Visitors, waitlisted people, members not in the room and those who left are refused
    with stable codes; the public config holds no credential."""
    rid, _, liz = await room_with_listener(people)
    zed = await people.member("zed")
    newcomer = await people.sign_in("newcomer@example.org", username="newcomer")
    visitor = people.make_client()
    path = f"/api/rooms/{rid}/media/config"

    r = await visitor.get(path)
    assert r.status_code == 401 and code(r) == "not_signed_in"
    r = await newcomer.get(path)
    assert r.status_code == 403 and code(r) == "not_a_member"
    r = await zed.get(path)
    assert r.status_code == 403 and code(r) == "not_in_room"
    await ok(liz, rid, "leave")
    r = await liz.get(path)
    assert r.status_code == 403 and code(r) == "not_in_room"
    r = await zed.get("/api/rooms/nosuchroom/media/config")
    assert r.status_code == 404 and code(r) == "room_not_found"

    for client in (zed, newcomer):
        r = await client.get("/api/media/config")
        assert r.status_code == 200 and r.json() == {"ice_servers": [STUN]}


@pytest.mark.settings(
    media_turn_urls=[],
    media_turn_secret=None,
    media_ice_servers=[
        STUN,
        {"urls": ["turn:old.example.org:3478"], "username": "u", "credential": "fixed-s3cret"},
    ],
)
async def test_a_fixed_credential_is_kept_inside_the_room(people: Any) -> None:
    """A deprecated fixed credential in media_ice_servers still works, for people in the
    room only."""
    rid, _, liz = await room_with_listener(people)
    zed = await people.member("zed")
    assert "fixed-s3cret" not in (await zed.get("/api/media/config")).text
    r = await zed.get(f"/api/rooms/{rid}/media/config")
    assert r.status_code == 403 and "fixed-s3cret" not in r.text
    body = (await liz.get(f"/api/rooms/{rid}/media/config")).json()
    fixed = {"urls": ["turn:old.example.org:3478"], "username": "u", "credential": "fixed-s3cret"}
    assert fixed in body["ice_servers"]


async def test_the_secret_never_reaches_logs_or_answers(
    people: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Only its HMAC leaves the server: not in any answer, log line or the settings' repr."""
    caplog.set_level(logging.DEBUG)
    rid, ann, liz = await room_with_listener(people)
    zed = await people.member("zed")
    answers = [
        await liz.get(f"/api/rooms/{rid}/media/config"),
        await ann.get(f"/api/rooms/{rid}/media/config"),
        await zed.get(f"/api/rooms/{rid}/media/config"),
        await zed.get("/api/media/config"),
        await zed.get("/api/openapi.json"),
    ]
    logging.getLogger("townhall.test").info("settings: %s %r", settings, settings)
    for r in answers:
        assert SECRET not in r.text
    assert SECRET not in caplog.text
    assert SECRET not in repr(settings) and SECRET not in str(settings)


def test_turn_urls_without_a_secret_do_not_load() -> None:
    """A TURN server with no shared secret could only be handed out without credentials."""
    with pytest.raises(ConfigError, match="media_turn_secret"):
        load_settings(None, media_turn_urls=TURN_URLS)
    with pytest.raises(ConfigError, match="TURN URL"):
        load_settings(None, media_turn_urls=["stun:x.example.org"], media_turn_secret=SECRET)


@pytest.mark.settings(
    media_turn_urls=TURN_URLS,
    media_turn_secret=SECRET,
    media_ice_servers=[STUN],
    media_ice_transport_policy="relay",
)
async def test_relay_only_is_told_with_the_config(people: Any, clock: FakeClock) -> None:
    """``media_ice_transport_policy = "relay"`` reaches the client with the servers (the web
    app gives it to RTCPeerConnection as iceTransportPolicy); the default says nothing."""
    rid, _, liz = await room_with_listener(people)
    body = (await liz.get(f"/api/rooms/{rid}/media/config")).json()
    assert body["ice_transport_policy"] == "relay"
    assert coturn_accepts(turn_entry(body), clock.now())
    public = (await liz.get("/api/media/config")).json()
    assert public == {"ice_servers": [STUN], "ice_transport_policy": "relay"}


async def test_the_default_policy_is_not_told(people: Any) -> None:
    rid, _, liz = await room_with_listener(people)
    assert "ice_transport_policy" not in (await liz.get(f"/api/rooms/{rid}/media/config")).json()


def test_relay_only_needs_a_turn_server() -> None:
    """Relay only without a TURN server would leave nobody a path to the audio."""
    with pytest.raises(ConfigError, match='media_ice_transport_policy "relay" needs a TURN'):
        load_settings(None, media_ice_transport_policy="relay")
    with pytest.raises(ConfigError, match="media_ice_transport_policy"):
        load_settings(None, media_ice_transport_policy="direct")
    relayed = load_settings(
        None,
        media_ice_transport_policy="relay",
        media_turn_urls=TURN_URLS,
        media_turn_secret=SECRET,
    )
    assert relayed.media_ice_transport_policy == "relay"
