"""Issue 11 item 11: sign-in codes reach the log only in development; production does not
start without a mail relay unless the operator says so."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import FakeClock
from townhall.api.http import create_api
from townhall.app import build_container, create_app
from townhall.config import Settings, load_settings
from townhall.errors import ConfigError


@pytest.fixture
async def relayless(settings: Settings, clock: FakeClock) -> AsyncIterator[Any]:
    """Builds a running app from the test settings with no SMTP relay and the given
    environment, as an operator who set ``allow_no_smtp`` would run it."""
    made: list[Any] = []

    async def make(environment: str) -> httpx.AsyncClient:
        changed = settings.model_copy(
            update={"environment": environment, "smtp_host": None, "allow_no_smtp": True}
        )
        container = build_container(changed, clock)
        await container.start()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_api(container), client=("192.0.2.9", 1)),
            base_url="http://townhall.test",
        )
        made.append((container, client))
        return client

    yield make
    for container, client in made:
        await client.aclose()
        await container.close()


def codes_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Six-digit numbers in what Townhall itself logged (the database driver's lines hold
    timestamps)."""
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("townhall")]
    return re.findall(r"\b\d{6}\b", "\n".join(lines))


async def test_production_never_logs_a_code(
    relayless: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Without a relay in production, asking for a code logs no code, neither in a mail
    subject nor anywhere else."""
    client = await relayless("production")
    with caplog.at_level(logging.DEBUG):
        r = await client.post("/api/auth/code", json={"email": "p@example.org"})
    assert r.status_code == 202
    assert "p@example.org" in caplog.text  # the undelivered mail is still reported
    assert codes_in(caplog) == []


async def test_development_shows_the_code_to_the_developer(
    relayless: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """In development with no relay, the code reaches whoever reads the server log."""
    client = await relayless("development")
    with caplog.at_level(logging.INFO):
        r = await client.post("/api/auth/code", json={"email": "d@example.org"})
    assert r.status_code == 202
    assert codes_in(caplog)


def test_production_without_a_relay_does_not_start(tmp_path: Path) -> None:
    """Serving in production with no smtp_host is a configuration error naming the way out."""
    settings = load_settings(None, environment="production", data_dir=tmp_path / "data")
    with pytest.raises(ConfigError, match="allow_no_smtp"):
        create_app(settings)


def test_production_without_a_relay_starts_when_told(tmp_path: Path) -> None:
    """``allow_no_smtp`` lets an operator serve without mail on purpose."""
    settings = load_settings(
        None, environment="production", allow_no_smtp=True, data_dir=tmp_path / "data"
    )
    assert create_app(settings) is not None
