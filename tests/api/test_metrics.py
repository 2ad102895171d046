"""``GET /metrics``: off by default, for the bearer of ``metrics_token`` only, in the
Prometheus text format."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from tests.api.roomkit import create, join
from tests.api.test_ws import serving, token_of
from tests.waiting import until

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
TOKEN = "scrape-me-please"
SCRAPER = {"Authorization": f"Bearer {TOKEN}"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = await client.get("/metrics", headers=SCRAPER)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return samples(r.text)


async def test_metrics_are_off_unless_a_token_is_set(client: httpx.AsyncClient) -> None:
    r = await client.get("/metrics", headers=SCRAPER)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


@pytest.mark.settings(metrics_token=TOKEN)
async def test_metrics_need_the_token(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        r = await client.get("/metrics", headers=headers)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "bad_metrics_token"


@pytest.mark.settings(metrics_token=TOKEN, limit_follows_per_user="1/3600")
async def test_requests_rooms_listeners_and_refusals_are_counted(
    people: Any, client: httpx.AsyncClient
) -> None:
    """Requests by route template and status with their latency; live rooms and their
    listeners; the outbox backlog; refusals by limit name."""
    ada = await people.member("ada")
    bob = await people.member("bob")
    await people.member("cyd")
    room = await create(ada)
    await join(bob, room["id"])
    assert (await bob.put("/api/users/ada/follow")).status_code == 200
    assert (await bob.put("/api/users/cyd/follow")).status_code == 429
    assert (await client.get("/api/users/nobody")).status_code in (401, 404)

    seen = await scrape(client)
    route = (("method", "PUT"), ("route", "/api/users/{username}/follow"))
    assert seen[("townhall_http_requests_total", (*route, ("status", "200")))] == 1
    assert seen[("townhall_http_requests_total", (*route, ("status", "429")))] == 1
    assert seen[("townhall_http_request_duration_seconds_count", route)] == 2
    assert seen[("townhall_http_request_duration_seconds_bucket", (("le", "+Inf"), *route))] == 2
    assert seen[("townhall_rate_limit_refusals_total", (("limit", "follow"),))] == 1
    assert seen[("townhall_live_rooms", ())] == 1
    assert seen[("townhall_room_listeners", ())] == 1
    assert ("townhall_outbox_backlog", ()) in seen
    assert seen[("townhall_websockets_open", ())] == 0
    # Paths are never labels: only route templates, or the kind of what matched.
    labels = {dict(k[1]).get("route") for k in seen if k[0] == "townhall_http_requests_total"}
    assert all(r is None or r.startswith("/") or r in ("static", "unmatched") for r in labels)
    assert not any(r and "ada" in r for r in labels)


@pytest.mark.settings(metrics_token=TOKEN)
async def test_open_sockets_are_counted(app: Any, people: Any) -> None:
    ada = await people.member("ada")
    async with serving(app) as url:
        http = url.replace("ws://", "http://")
        async with httpx.AsyncClient(base_url=http) as scraper:
            async with connect(
                f"{url}/api/ws", additional_headers={"Authorization": f"Bearer {token_of(ada)}"}
            ):

                async def counted() -> bool:
                    return (await scrape(scraper))[("townhall_websockets_open", ())] == 1

                await until(counted, "the open socket to be counted")


@pytest.mark.settings(metrics_token=TOKEN)
async def test_the_dashboard_reads_only_metrics_that_exist(client: httpx.AsyncClient) -> None:
    """docs/grafana-dashboard.json names no metric that /metrics does not serve."""
    assert (await client.get("/healthz")).status_code == 200
    r = await client.get("/metrics", headers=SCRAPER)
    served = {
        re.sub(r"_total$", "", name)
        for name in re.findall(r"^# TYPE (townhall_[a-z_]+) ", r.text, re.M)
    }
    board = json.loads(DASHBOARD.read_text())
    used = {
        name
        for panel in board["panels"]
        for target in panel["targets"]
        for name in re.findall(r"townhall_[a-z_]+", target["expr"])
    }
    # A sample is named after its family, with _total, _bucket, _count or _sum added.
    used = {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in used}
    assert used and used <= served, used - served
