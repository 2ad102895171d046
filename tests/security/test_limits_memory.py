"""Issue 11 item 14: the in-process rate limiter forgets keys whose window has passed, so a
stream of new clients cannot grow its memory for ever (a Sans-I/O unit: the limiter and a
fake clock)."""

from __future__ import annotations

import pytest

from tests.conftest import FakeClock
from townhall.errors import RateLimited
from townhall.ratelimit import MemoryRateLimiter


async def test_keys_of_passed_windows_are_dropped() -> None:
    """A thousand one-off clients leave nothing behind once their window has passed."""
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock)
    for n in range(1000):
        await limiter.hit(f"code-ip:198.51.100.{n}", "5/60")
    assert len(limiter) == 1000
    clock.advance(seconds=61)
    await limiter.hit("code-ip:192.0.2.1", "5/60")
    assert len(limiter) == 1


async def test_a_key_within_its_window_still_limits() -> None:
    """Sweeping keeps a key whose window has not passed, with all its hits."""
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock)
    await limiter.hit("busy", "2/3600")
    await limiter.hit("busy", "2/3600")
    for n in range(3):
        clock.advance(seconds=61)
        await limiter.hit(f"other{n}", "1/10")
    with pytest.raises(RateLimited):
        await limiter.hit("busy", "2/3600")
    clock.advance(seconds=3600)
    await limiter.hit("busy", "2/3600")
