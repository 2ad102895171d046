"""Structured logging: one JSON object a line, with secrets in query strings blanked."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from townhall.logs import request_id, setup_logging


def test_tokens_in_logged_addresses_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    """A WebSocket access line with ?token= never shows the token."""
    setup_logging("INFO", "json")
    try:
        # Any logger: the redaction sits on the handler every line goes through.
        logging.getLogger("townhall.access").info(
            '%s - "WebSocket /api/ws?token=%s" [accepted]', "127.0.0.1:5", "s3cr3t-Token_value"
        )
    finally:
        logging.getLogger().handlers.clear()
    line = capsys.readouterr().err.strip().splitlines()[-1]
    entry = json.loads(line)
    assert "s3cr3t" not in line
    assert entry["msg"].endswith('"WebSocket /api/ws?token=[redacted]" [accepted]')


def test_lines_carry_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    """Every JSON line names the request it belongs to."""
    setup_logging("INFO", "json")
    token = request_id.set("req-42")
    try:
        logging.getLogger("townhall.test").info("hello %s", "world")
    finally:
        request_id.reset(token)
        logging.getLogger().handlers.clear()
    entry = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert entry["request_id"] == "req-42"
    assert entry["msg"] == "hello world"


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "townhall.access"]


async def test_one_access_line_a_request(client: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Each request logs method, route template, status, duration and request id; the
    query string and the path's own values are left out."""
    caplog.set_level(logging.INFO, logger="townhall.access")
    response = await client.get(
        "/invite/Secret-Token-1?code=123456", headers={"X-Request-ID": "req-7"}
    )
    assert response.status_code == 200
    [line] = [r for r in _access_lines(caplog) if getattr(r, "path", "") == "/invite/{token}"]
    assert line.getMessage().startswith("GET /invite/{token} 200 ")
    assert (line.method, line.status) == ("GET", 200)  # type: ignore[attr-defined]
    assert line.duration_ms >= 0  # type: ignore[attr-defined]
    logged = " ".join(f"{r.getMessage()} {vars(r)}" for r in _access_lines(caplog))
    assert "Secret-Token-1" not in logged and "123456" not in logged


@pytest.mark.settings(access_log=False)
async def test_access_lines_can_be_turned_off(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """access_log = false: requests are answered and not logged."""
    caplog.set_level(logging.INFO, logger="townhall.access")
    assert (await client.get("/healthz")).status_code == 200
    assert _access_lines(caplog) == []
