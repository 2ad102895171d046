"""Test stacks: every storage-touching test runs on the embedded stack (SQLite, in-memory
limits) and on the production stack (PostgreSQL, Redis), each on a fresh database."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import delete

from townhall.api.http import create_api
from townhall.app import Container, build_container
from townhall.config import Settings, load_settings
from townhall.storage.db import Database
from townhall.storage.models import Base

POSTGRES_ADMIN = os.environ.get(
    "TOWNHALL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TOWNHALL_TEST_REDIS", "redis://127.0.0.1:6379/0")
STACKS = ["sqlite", "postgres"]


class FakeClock:
    """The one fake the suite allows besides the SMTP relay: time, moved by the test."""

    def __init__(self) -> None:
        self.current = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


@dataclass
class Mailbox:
    """Messages received by a real SMTP server listening on loopback."""

    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]

    def last_to(self, address: str) -> Message:
        found = self.to(address)
        assert found, f"no mail to {address}"
        return found[-1]

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()


@pytest.fixture(scope="session")
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


@pytest.fixture
def mailbox(smtp: tuple[Mailbox, int]) -> Mailbox:
    smtp[0].clear()
    return smtp[0]


def _migrate(url: str) -> None:
    async def run() -> None:
        db = Database(url)
        try:
            await db.migrate()
        finally:
            await db.close()

    asyncio.run(run())


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'townhall.db'}"
    _migrate(url)
    return url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of its own for this run, created fresh and dropped afterwards."""
    name = f"townhall_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(postgres_admin(f'CREATE DATABASE "{name}"'))
    url = postgres_database_url(name)
    _migrate(url)
    yield url
    asyncio.run(postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def postgres_admin(sql: str) -> None:
    """Run one statement as the PostgreSQL administrator (creating or dropping a database)."""
    conn = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def postgres_database_url(name: str) -> str:
    """Townhall's database URL for the database ``name`` on the test server."""
    base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(
    stack: str, request: pytest.FixtureRequest, tmp_path: Path, smtp: tuple[Mailbox, int]
) -> Settings:
    # The clock is a fake the test moves: the rounds that act on time run when a test runs
    # them (``rooms.sweep()``, ``gateway.heartbeat()``, ``notifications.sweep()``,
    # ``room_logs.sweep()``, ``media.sweep_incidents()``), never on their own between a
    # test's steps. Served processes run them (tests/test_serve.py).
    # Audience digests go out in real time; a short interval keeps the tests short.
    extra: dict[str, Any] = {
        "public_url": "http://townhall.test",
        "periodic_sweeps": False,
        "room_digest_seconds": 0.05,
        # Media in this process; tests/media's "workers" plane runs it in worker processes.
        "media_workers": 0,
    }
    if stack == "postgres":
        extra["database_url"] = request.getfixturevalue("postgres_url")
        extra["redis_url"] = REDIS_URL
        extra["redis_prefix"] = f"townhall-test:{uuid.uuid4().hex}:"
    else:
        extra["database_url"] = request.getfixturevalue("sqlite_url")
    marker = request.node.get_closest_marker("settings")
    if marker:
        extra.update(marker.kwargs)
    return load_settings(
        None,
        data_dir=tmp_path / "data",
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        smtp_security="none",
        secret_key="test-secret",
        **extra,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def container(settings: Settings, clock: FakeClock) -> AsyncIterator[Container]:
    c = build_container(settings, clock)
    async with c.db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(delete(table))
    await c.start()
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
def app(container: Container) -> Any:
    return create_api(container)


@pytest.fixture
async def make_client(app: Any, container: Container) -> AsyncIterator[Any]:
    """Clients are separate browsers or API users: each has its own cookies and address.

    What follows a change (notifications, reminder mails) is delivered by the outbox worker
    after the response. Each client waits for the worker to settle before it sends a request
    and after it gets the response, so a test reads the state that all it did so far left
    (tests/api/test_outbox.py checks that requests themselves do not wait)."""
    clients: list[httpx.AsyncClient] = []

    async def settle(_: Any) -> None:
        await asyncio.wait_for(container.outbox.settled(), 60)

    def make(ip: str = "127.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 50000))
        client = httpx.AsyncClient(
            transport=transport,
            base_url="http://townhall.test",
            event_hooks={"request": [settle], "response": [settle]},
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def client(make_client: Any) -> httpx.AsyncClient:
    return make_client()  # type: ignore[no-any-return]


@pytest.fixture
def people(container: Container, make_client: Any, mailbox: Mailbox) -> People:
    return People(container, make_client, mailbox)


class People:
    """Creates signed-in people for a test: members (as an operator would) or newcomers."""

    def __init__(self, container: Container, make_client: Any, mailbox: Mailbox) -> None:
        self.container = container
        self.clock: FakeClock = container.clock  # type: ignore[assignment]
        self.make_client = make_client
        self.mailbox = mailbox
        self._n = 0

    async def member(self, username: str, **kw: Any) -> httpx.AsyncClient:
        email = f"{username}@example.org"
        await self.container.accounts.create_account(email, username, **kw)
        return await self.sign_in(email)

    async def admin(self, username: str = "root_admin") -> httpx.AsyncClient:
        return await self.member(username, staff_role="admin")

    async def sign_in(
        self, email: str, username: str | None = None, invite: str | None = None
    ) -> httpx.AsyncClient:
        """Sign in through the public API with the mailed code; returns a bearer client.

        Moves the clock past the resend interval, so the same person can sign in again."""
        self._n += 1
        self.clock.advance(seconds=31)
        client = self.make_client(ip=f"10.0.{self._n // 250}.{self._n % 250 + 1}")
        code = await request_code(client, self.mailbox, email)
        body: dict[str, Any] = {"email": email, "code": code, "session": "token"}
        if username:
            body["username"] = username
        if invite:
            body["invite"] = invite
        r = await client.post("/api/auth/verify", json=body)
        assert r.status_code == 200, r.text
        client.headers["Authorization"] = f"Bearer {r.json()['token']}"
        return client


async def request_code(client: httpx.AsyncClient, mailbox: Mailbox, email: str) -> str:
    r = await client.post("/api/auth/code", json={"email": email})
    assert r.status_code == 202, r.text
    return code_in(mailbox.last_to(email))


def code_in(message: Message) -> str:
    import re

    match = re.search(r"\b(\d{6})\b", message.get_payload())  # type: ignore[arg-type]
    assert match, "no code in the mail"
    return match.group(1)
