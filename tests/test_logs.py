"""Structured logging: one JSON object a line, with secrets in query strings blanked."""

from __future__ import annotations

import json
import logging

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
