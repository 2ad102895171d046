"""Issue 11 item 14: the service worker stores only the public app shell, never a private
address such as a calendar feed (whose address is its secret) or a signed-in page."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser

from tests.browser.conftest import Server, browser, database_env, playwright, server, tone
from tests.browser.test_shell import shell

# The browser suite's fixtures.
__all__ = ["browser", "database_env", "playwright", "server", "tone"]

CACHED_PATHS = """async () => {
  const paths = [];
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) paths.push(new URL(request.url).pathname);
  }
  return paths;
}"""


def test_a_private_feed_is_never_cached(server: Server, browser: Browser) -> None:
    """A calendar feed fetched under the worker is not stored: offline it is gone, and every
    cached address is a file of the shell."""
    feed = httpx.post(
        f"{server.url}/api/me/calendar-feed",
        headers={"Authorization": f"Bearer {server.admin_token}"},
    )
    assert feed.status_code == 201, feed.text
    path = feed.json()["url"].removeprefix(server.url)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(server.url + "/")
        page.evaluate("async () => await navigator.serviceWorker.ready")
        page.reload()
        page.wait_for_function("() => navigator.serviceWorker.controller !== null")
        fetch = f"async () => (await fetch({path!r}).catch(() => ({{ status: 0 }}))).status"
        assert page.evaluate(fetch) == 200
        context.set_offline(True)
        assert page.evaluate(fetch) == 0
        cached = page.evaluate(CACHED_PATHS)
        assert cached, "the shell was not cached"
        assert sorted(set(cached) - shell()) == []
    finally:
        context.close()
