"""Item 3: a page of another origin cannot drive a browser session, over HTTP or the
WebSocket; API clients with a bearer token, and tools sending no browser headers, can."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.security.conftest import OWN, SAME_SITE, Browsers, serving
from tests.waiting import ws_connect as connect

TIMEOUT = 5.0


def refused(r: Any) -> bool:
    return r.status_code == 403 and r.json()["error"]["code"] == "foreign_origin"


async def test_signing_out_from_a_foreign_page_is_refused(browsers: Browsers) -> None:
    """A body-less POST with the cookie from another subdomain is refused; the session lives."""
    ada = await browsers.member("ada")
    r = await ada.post("/api/auth/signout", headers={"Origin": SAME_SITE})
    assert refused(r)
    assert (await ada.get("/api/me")).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "null"},
        {"Origin": "https://townhall.test"},  # another scheme is another origin
        {"Origin": "http://townhall.test:8080"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Referer": f"{SAME_SITE}/attack.html"},
    ],
    ids=["null", "scheme", "port", "fetch-same-site", "fetch-cross-site", "referer"],
)
async def test_foreign_browser_requests_are_refused(
    browsers: Browsers, headers: dict[str, str]
) -> None:
    """Origin decides; without it Sec-Fetch-Site, then Referer, as browsers send them."""
    ada = await browsers.member("ada")
    assert refused(await ada.post("/api/rooms", json={"title": "x"}, headers=headers))
    assert refused(await ada.post("/api/me/calendar-feed", headers=headers))
    assert refused(await ada.delete("/api/me/avatar", headers=headers))
    assert refused(await ada.patch("/api/me", json={"bio": "owned"}, headers=headers))
    assert (await ada.get("/api/me")).json()["bio"] == ""


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": OWN},
        {"Origin": f"{OWN}:80"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Referer": f"{OWN}/#/me/edit"},
        {},
    ],
    ids=["origin", "default-port", "fetch-same-origin", "referer", "no-browser-headers"],
)
async def test_the_apps_own_requests_pass(browsers: Browsers, headers: dict[str, str]) -> None:
    """The web app's own pages, and tools that send no browser headers, are served."""
    ada = await browsers.member("ada")
    r = await ada.patch("/api/me", json={"bio": "hello"}, headers=headers)
    assert r.status_code == 200, r.text


async def test_a_forged_sign_in_is_refused(container: Any, make_client: Any) -> None:
    """A foreign page cannot sign a visitor into an account of its choosing (login CSRF)."""
    await container.accounts.create_account("eve@example.org", "eve")
    link = await container.accounts.create_sign_in_link("eve")
    victim = make_client()
    r = await victim.post(
        "/api/auth/link",
        json={"token": link.rsplit("/", 1)[1], "session": "cookie"},
        headers={"Origin": SAME_SITE},
    )
    assert refused(r)
    assert "townhall_session" not in victim.cookies


async def test_bearer_clients_are_unaffected(people: Any) -> None:
    """A bearer token is no ambient credential: any Origin may use it."""
    bob = await people.member("bob")
    r = await bob.patch("/api/me", json={"bio": "hi"}, headers={"Origin": SAME_SITE})
    assert r.status_code == 200, r.text


@pytest.mark.settings(allowed_origins=["https://app.example.org"])
async def test_allowed_origins_are_served(browsers: Browsers) -> None:
    """Origins listed in allowed_origins are served like the public URL's own."""
    ada = await browsers.member("ada")
    r = await ada.patch("/api/me", json={"bio": "x"}, headers={"Origin": "https://app.example.org"})
    assert r.status_code == 200, r.text
    assert refused(
        await ada.patch("/api/me", json={"bio": "x"}, headers={"Origin": "https://example.org"})
    )


async def close_code(ws: Any) -> int | None:
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    return ws.close_code  # type: ignore[no-any-return]


async def test_websocket_from_a_foreign_page_is_closed_with_4403(
    app: Any, browsers: Browsers
) -> None:
    """The handshake's Origin is checked before the session: a foreign page gets 4403."""
    ada = await browsers.member("ada")
    cookie = f"townhall_session={ada.cookies['townhall_session']}"
    async with serving(app, ws="websockets-sansio") as port:
        url = f"ws://127.0.0.1:{port}/api/ws"
        async with connect(url, origin=SAME_SITE, additional_headers={"Cookie": cookie}) as ws:
            assert await close_code(ws) == 4403
        async with connect(url, origin=OWN, additional_headers={"Cookie": cookie}) as ws:
            await ws.send(json.dumps({"id": 1, "type": "unsubscribe", "room": "nothing"}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            assert reply["id"] == 1 and reply["success"], reply
        # A client that is not a browser sends no Origin at all.
        async with connect(url, additional_headers={"Cookie": cookie}) as ws:
            await ws.send(json.dumps({"id": 1, "type": "unsubscribe", "room": "nothing"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["success"]
