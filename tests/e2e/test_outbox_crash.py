"""Nothing that follows a committed change is lost when its process dies: a real
``townhall serve`` commits a room's start and a follow, is killed before it tells anyone,
and the process started after it delivers the notifications from the outbox."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Mailbox, code_in
from tests.e2e.test_processes import _admin, free_port
from townhall.client import Townhall

POSTGRES_ADMIN = os.environ.get(
    "TOWNHALL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)
TOWNHALL = (sys.executable, "-m", "townhall")

pytestmark = pytest.mark.e2e


@dataclass
class Site:
    """One data directory and database, and the environment its processes run with."""

    root: Path
    database_url: str
    env: dict[str, str]

    @property
    def data(self) -> Path:
        return self.root / "data"

    def serve(self, name: str, **env: str) -> Server:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = self.root / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    *TOWNHALL,
                    "--database-url",
                    self.database_url,
                    "--data-dir",
                    str(self.data),
                    "serve",
                    "--port",
                    str(port),
                ],
                env={**self.env, "TOWNHALL_PUBLIC_URL": url, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        server = Server(url, process, log)
        server.wait_healthy()
        return server


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return f"--- {self.log.name} ---\n{self.log.read_text(errors='replace')[-4000:]}"

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.url} exited\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.url} never answered\n{self.output()}")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(params=["sqlite", "postgres"])
def site(
    request: pytest.FixtureRequest, tmp_path: Path, smtp: tuple[Mailbox, int]
) -> Iterator[Site]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWNHALL_")}
    env.update(
        TOWNHALL_SECRET_KEY="crash-" + uuid.uuid4().hex,
        TOWNHALL_LOG_LEVEL="INFO",
        # Whoever signs in is a member: no operator command needed before the test.
        TOWNHALL_INVITE_ONLY="false",
        TOWNHALL_SMTP_HOST="127.0.0.1",
        TOWNHALL_SMTP_PORT=str(smtp[1]),
        TOWNHALL_SMTP_SECURITY="none",
    )
    if request.param == "sqlite":
        yield Site(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'data' / 'townhall.db'}", env)
        return
    name = f"townhall_crash_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield Site(tmp_path, f"{base}/{name}", env)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _sign_up(th: Townhall, mailbox: Mailbox, username: str) -> None:
    email = f"{username}-{uuid.uuid4().hex[:6]}@example.org"
    await th.request_code(email)
    await th.verify_code(email, code_in(mailbox.last_to(email)), username=username)


async def _inbox(th: Townhall) -> list[dict[str, Any]]:
    body = await th.call("GET", "/api/notifications", params={"limit": 50})
    return list(body["items"])


async def _until_told(th: Townhall, kind: str, server: Server) -> dict[str, Any]:
    """Poll the inbox (the other process gives no signal) until a ``kind`` item is there."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for item in await _inbox(th):
            if item["name"] == kind:
                return item
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {kind} notification arrived\n{server.output()}")


async def test_a_notification_committed_before_a_crash_arrives_after_the_restart(
    site: Site, mailbox: Mailbox
) -> None:
    """A process that does not deliver its outbox commits a follow and a room start, is
    killed (SIGKILL), and the next process delivers both notifications."""
    first = site.serve("first", TOWNHALL_OUTBOX_WORKER="false")
    second: Server | None = None
    try:
        async with Townhall(first.url) as alice, Townhall(first.url) as bob:
            await _sign_up(alice, mailbox, "alice")
            await _sign_up(bob, mailbox, "bob")
            await bob.follow("alice")
            room = await alice.create_room("Before the crash", "open", "everyone")
            # Committed, and told to nobody yet: this process does not deliver.
            assert await _inbox(bob) == [], first.output()
            assert await _inbox(alice) == [], first.output()
            tokens = {"alice": alice.token, "bob": bob.token}
        first.kill()
        assert first.process.returncode == -signal.SIGKILL

        second = site.serve("second")
        async with (
            Townhall(second.url, tokens["alice"]) as alice,
            Townhall(second.url, tokens["bob"]) as bob,
        ):
            started = await _until_told(bob, "room.started", second)
            assert started["actor"]["username"] == "alice"
            assert started["data"]["room"] == room["id"]
            followed = await _until_told(alice, "user.followed", second)
            assert followed["actor"]["username"] == "bob"
            # Said once each, though the outbox delivers at least once.
            assert [i["name"] for i in await _inbox(bob)] == ["room.started"]
            assert [i["name"] for i in await _inbox(alice)] == ["user.followed"]
    finally:
        first.kill()
        if second is not None:
            second.stop()
