"""The HTTP surface every endpoint shares: health, OpenAPI, request ids, error shapes, logs."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Mailbox, code_in, request_code
from townhall.app import Container
from townhall.logs import setup_logging


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is the documented error shape with this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return error  # type: ignore[no-any-return]


async def test_healthz_names_the_database(client: Any, container: Container) -> None:
    """/healthz answers ok with the database kind in use, without signing in."""
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": container.db.dialect}


async def test_openapi_describes_the_api(client: Any) -> None:
    """/api/openapi.json is an OpenAPI 3 document of the API, browsable at /api/docs in
    development (docs/security.md: the page loads Swagger UI from a CDN)."""
    r = await client.get("/api/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] == "Townhall"
    paths = doc["paths"]
    assert "/healthz" in paths and "/api/auth/code" in paths and "/api/me" in paths
    assert all(p == "/healthz" or p.startswith("/api/") for p in paths)
    operation_ids = [op["operationId"] for item in paths.values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))
    assert "HTTPBearer" in doc["components"]["securitySchemes"]
    docs = await client.get("/api/docs")
    assert docs.status_code == 200
    assert "/api/openapi.json" in docs.text


async def test_every_response_carries_a_request_id(client: Any) -> None:
    """A response has X-Request-ID: the caller's own when given (at most 64 chars), else new."""
    r = await client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
    other = await client.get("/healthz")
    assert other.headers["x-request-id"] != r.headers["x-request-id"]
    r = await client.get("/healthz", headers={"X-Request-ID": "trace-42"})
    assert r.headers["x-request-id"] == "trace-42"
    r = await client.get("/api/nothing-here", headers={"X-Request-ID": "x" * 100})
    assert r.headers["x-request-id"] == "x" * 64


async def test_domain_error_shape(client: Any) -> None:
    """A rule broken by the caller is a JSON error with a stable code and a message."""
    r = await client.post("/api/auth/code", json={"email": "not an address"})
    assert_error(r, 400, "invalid_email")


async def test_validation_error_lists_the_fields(client: Any) -> None:
    """A body that does not match the schema is 422 invalid_input naming each field."""
    r = await client.post("/api/auth/verify", json={"email": "a@example.org", "extra": 1})
    error = assert_error(r, 422, "invalid_input")
    fields = {f["field"] for f in error["fields"]}
    assert {"code", "extra"} <= fields
    assert all(isinstance(f["problem"], str) for f in error["fields"])


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 422, "invalid_input"),
        (b"", 422, "invalid_input"),
        (b"[]", 422, "invalid_input"),
        (b'"text"', 422, "invalid_input"),
        (b"\xff\xfe", 422, "invalid_input"),
        (b'{"email": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400, "bad_request"),
    ],
)
async def test_malformed_bodies_are_client_errors(
    client: Any, body: bytes, status: int, code: str
) -> None:
    """Broken, empty, wrongly typed or absurdly nested JSON is a 4xx, never a server error."""
    r = await client.post(
        "/api/auth/code", content=body, headers={"content-type": "application/json"}
    )
    assert_error(r, status, code)


@pytest.mark.parametrize("device", ["Pixel\x00 9", "Pixel\x1b[2J 9", "Pixel\u202e 9"])
async def test_device_label_keeps_printable_text_only(
    client: Any, mailbox: Mailbox, device: str
) -> None:
    """A session label with NUL or control characters signs in; only printable text is kept."""
    code = await request_code(client, mailbox, "dev@example.org")
    body = {"email": "dev@example.org", "code": code, "username": "dev", "device": device}
    r = await client.post("/api/auth/verify", json=body)
    assert r.status_code == 200, r.text
    sessions = await client.get("/api/me/sessions")
    assert [s["name"] for s in sessions.json()] == ["Pixel[2J 9" if "\x1b" in device else "Pixel 9"]


async def test_not_signed_in_shape(client: Any) -> None:
    """Without a session, a protected endpoint answers 401 not_signed_in."""
    assert_error(await client.get("/api/me"), 401, "not_signed_in")
    r = await client.get("/api/me", headers={"Authorization": "Bearer not-a-real-token"})
    assert_error(r, 401, "not_signed_in")


@pytest.mark.parametrize("path", ["/api/nothing-here", "/api/me/nothing", "/nothing.js"])
async def test_unknown_address_is_a_json_404(client: Any, path: str) -> None:
    """An address that does not exist is 404 not_found in the error shape."""
    assert_error(await client.get(path), 404, "not_found")


@pytest.mark.parametrize(("method", "path"), [("DELETE", "/healthz"), ("PUT", "/api/auth/code")])
async def test_wrong_method_is_a_json_405(client: Any, method: str, path: str) -> None:
    """A known address with an unsupported method is 405 method_not_allowed."""
    assert_error(await client.request(method, path), 405, "method_not_allowed")


async def test_web_client_is_served_at_the_root(client: Any) -> None:
    """GET / serves the browser client's page."""
    r = await client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")


# The test's own tools: the HTTP client and the SMTP server standing in for the relay.
TEST_LOGGERS = ("httpx", "httpcore", "mail.log")


class ServerLog:
    """What the server logged, one JSON object a line, without the test tools' own lines."""

    def __init__(self, buffer: io.StringIO) -> None:
        self._buffer = buffer

    @property
    def lines(self) -> list[str]:
        return [
            line
            for line in self._buffer.getvalue().splitlines()
            if not json.loads(line)["logger"].startswith(TEST_LOGGERS)
        ]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def server_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerLog]:
    """Everything the server logs, set up as `townhall serve` does, at its most verbose."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    saved_levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    buffer = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buffer)
    setup_logging("DEBUG", "json")
    yield ServerLog(buffer)
    root.handlers[:], root.level = saved
    for name, level in saved_levels.items():
        logging.getLogger(name).setLevel(level)


async def _sign_in_everything(
    make_client: Any, container: Container, mailbox: Mailbox
) -> tuple[list[str], str]:
    """Walks through every way a secret is made or used; returns the secrets and the code."""
    client = make_client()
    email = "ada@example.org"
    code = await request_code(client, mailbox, email)
    wrong = "000000" if code != "000000" else "111111"
    await client.post("/api/auth/verify", json={"email": email, "code": wrong})
    r = await client.post(
        "/api/auth/verify",
        json={"email": email, "code": code, "username": "ada", "session": "token"},
    )
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/me", headers=headers)).status_code == 200

    await container.accounts.create_account("root@example.org", "rooty", staff_role="admin")
    link = await container.accounts.create_sign_in_link("rooty")
    link_token = link.rsplit("/", 1)[1]
    browser = make_client()
    assert (await browser.get(f"/signin/{link_token}")).status_code == 200
    by_link = {"token": link_token, "session": "cookie"}
    assert (await browser.post("/api/auth/link", json=by_link)).status_code == 200
    cookie = browser.cookies["townhall_session"]
    assert (await browser.get("/api/me")).status_code == 200
    assert (await browser.post("/api/auth/link", json=by_link)).status_code == 400

    sent = await browser.post("/api/invites", json={})
    assert sent.status_code == 201, sent.text
    invite_token = sent.json()["link"].rstrip("/").rsplit("/", 1)[1]
    assert (await client.get(f"/api/invites/link/{invite_token}")).status_code == 200
    await client.post("/api/auth/signout", headers=headers)
    return [token, link_token, cookie, invite_token], code


@pytest.mark.settings(environment="production")
async def test_logs_never_hold_secrets_in_production(
    server_log: ServerLog, make_client: Any, container: Container, mailbox: Mailbox
) -> None:
    """In production no log line holds a code, token, cookie or link secret, even at DEBUG."""
    secrets, code = await _sign_in_everything(make_client, container, mailbox)
    assert server_log.entries, "nothing was logged"
    for secret in secrets:
        assert secret not in server_log.text
    assert not re.search(rf"\b{code}\b", server_log.text)


async def test_development_logs_the_code_on_its_own_line_only(
    server_log: ServerLog, make_client: Any, container: Container, mailbox: Mailbox
) -> None:
    """In development the sign-in code appears in one documented line; no other secret does."""
    secrets, code = await _sign_in_everything(make_client, container, mailbox)
    with_code = [e for e in server_log.entries if re.search(rf"\b{code}\b", json.dumps(e))]
    assert [e["msg"] for e in with_code] == [f"sign-in code for ada@example.org: {code}"]
    for secret in secrets:
        assert secret not in server_log.text


async def test_log_lines_carry_the_request_id(
    server_log: ServerLog, client: Any, mailbox: Mailbox
) -> None:
    """What the server logs while answering a request names that request's id."""
    await client.post(
        "/api/auth/code", json={"email": "rid@example.org"}, headers={"X-Request-ID": "rid-7"}
    )
    assert code_in(mailbox.last_to("rid@example.org"))
    mine = [e for e in server_log.entries if e["request_id"] == "rid-7"]
    assert any(e["msg"].startswith("POST /api/auth/code 202") for e in mine)
    assert any("sign-in code for rid@example.org" in e["msg"] for e in mine)
