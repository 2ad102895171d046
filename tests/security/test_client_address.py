"""Issue 11 item 1: rate limits count the real client: X-Forwarded-For is believed only from
our own proxies, from the right, and an IPv6 client counts by its /64."""

from __future__ import annotations

from typing import Any

import pytest

from townhall.config import load_settings
from townhall.errors import ConfigError


async def ask(client: Any, email: str, forwarded: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    r = await client.post("/api/auth/code", json={"email": email}, headers=headers)
    return int(r.status_code)


@pytest.mark.settings(trusted_proxies=["10.9.0.0/16"], limit_code_requests_per_ip="2/3600")
async def test_a_spoofed_leftmost_hop_does_not_buy_a_fresh_limit(make_client: Any) -> None:
    """Behind our proxy, a client writing its own X-Forwarded-For is still counted by the
    hop our proxy appended."""
    proxy = make_client(ip="10.9.0.1")
    statuses = [
        await ask(proxy, f"p{n}@example.org", f"192.0.2.{n}, 203.0.113.7, 10.9.0.2")
        for n in range(3)
    ]
    assert statuses == [202, 202, 429]
    assert await ask(proxy, "other@example.org", "192.0.2.1, 203.0.113.8") == 202


@pytest.mark.settings(limit_code_requests_per_ip="2/3600")
async def test_forwarded_for_from_a_stranger_is_ignored(make_client: Any) -> None:
    """Without trusted proxies, the header is the client's own words: the peer counts."""
    client = make_client(ip="203.0.113.9")
    statuses = [await ask(client, f"s{n}@example.org", f"192.0.2.{n}") for n in range(3)]
    assert statuses == [202, 202, 429]


@pytest.mark.settings(limit_code_requests_per_ip="2/3600")
async def test_an_ipv6_client_counts_by_its_slash_64(make_client: Any) -> None:
    """Hopping between addresses of one /64 does not escape the limit; another /64 is
    someone else."""
    statuses = [
        await ask(make_client(ip=f"2001:db8:1:2::{n}"), f"v{n}@example.org") for n in (1, 2, 3)
    ]
    assert statuses == [202, 202, 429]
    assert await ask(make_client(ip="2001:db8:1:3::1"), "w@example.org") == 202


@pytest.mark.settings(trusted_proxies=["::1"], limit_code_requests_per_ip="2/3600")
async def test_a_forwarded_ipv6_client_counts_by_its_slash_64(make_client: Any) -> None:
    """The /64 rule applies to the address taken from X-Forwarded-For too."""
    proxy = make_client(ip="::1")
    statuses = [await ask(proxy, f"f{n}@example.org", f"2001:db8:5:6::{n}") for n in (1, 2, 3)]
    assert statuses == [202, 202, 429]


def test_the_retired_trust_forwarded_for_is_refused_with_its_replacement() -> None:
    """An old configuration naming trust_forwarded_for fails to load and says what to write."""
    with pytest.raises(ConfigError, match="trusted_proxies"):
        load_settings(None, trust_forwarded_for=True)


def test_a_malformed_trusted_proxy_is_refused() -> None:
    """A proxy entry that is not an address or network is named in the error."""
    with pytest.raises(ConfigError, match="trusted_proxies"):
        load_settings(None, trusted_proxies=["10.0.0.0/33"])
