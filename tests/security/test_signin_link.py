"""Item 3: following an operator's sign-in link signs no one in (login CSRF); the person
confirms on the page, which signs in with a POST from the app's own origin."""

from __future__ import annotations

from typing import Any

from tests.security.conftest import OWN


async def test_following_the_link_signs_no_one_in(container: Any, make_client: Any) -> None:
    """GET /signin/{token} is the app's confirmation page: no cookie, the link still unused."""
    await container.accounts.create_account("ada@example.org", "ada")
    link = await container.accounts.create_sign_in_link("ada")
    token = link.rsplit("/", 1)[1]
    browser = make_client()
    page = await browser.get(f"/signin/{token}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/app.js">' in page.text
    assert "set-cookie" not in page.headers
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert (await browser.get("/api/me")).status_code == 401

    confirmed = await browser.post(
        "/api/auth/link", json={"token": token, "session": "cookie"}, headers={"Origin": OWN}
    )
    assert confirmed.status_code == 200, confirmed.text
    assert (await browser.get("/api/me")).json()["username"] == "ada"


async def test_a_used_link_confirms_nothing(container: Any, make_client: Any) -> None:
    """The page opens for any token; only the POST tells whether the link still works."""
    await container.accounts.create_account("ada@example.org", "ada")
    token = (await container.accounts.create_sign_in_link("ada")).rsplit("/", 1)[1]
    first, second = make_client(), make_client()
    body = {"token": token, "session": "cookie"}
    assert (await first.post("/api/auth/link", json=body)).status_code == 200
    assert (await second.get(f"/signin/{token}")).status_code == 200
    again = await second.post("/api/auth/link", json=body)
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "link_invalid"
