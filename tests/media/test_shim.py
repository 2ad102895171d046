"""The shim's start-up check: the media plane refuses aiortc or aioice it was not reviewed
against, loudly, at start."""

from __future__ import annotations

import pytest
from aiortc import RTCDtlsTransport

from townhall.app import build_container
from townhall.config import Settings
from townhall.media import shim


async def test_the_installed_versions_pass_the_check() -> None:
    """The pinned aiortc, aioice and pylibsrtp have every private name the shim uses."""
    await shim.check()


async def test_a_changed_version_stops_the_server_starting(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another aiortc version than the reviewed one: starting fails, naming the shim."""
    monkeypatch.setitem(shim.PINNED, "aiortc", "0.0.1")
    container = build_container(settings)
    try:
        with pytest.raises(shim.ShimError, match=r"aiortc 1\.16\.0 \(reviewed: 0\.0\.1\)"):
            await container.start()
    finally:
        await container.close()


async def test_a_private_name_gone_fails_the_check_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A private method the media plane replaces is gone: the check names it."""
    monkeypatch.delattr(RTCDtlsTransport, "_handle_rtp_data")
    with pytest.raises(shim.ShimError, match=r"RTCDtlsTransport\._handle_rtp_data.*shim\.py"):
        await shim.check()
