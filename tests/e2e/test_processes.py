"""Two ``townhall serve`` processes on one PostgreSQL database and one Redis serve the same
rooms: events cross between them, and a client survives losing its process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.waiting import PATIENCE
from townhall.client import Live, Townhall

POSTGRES_ADMIN = os.environ.get(
    "TOWNHALL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TOWNHALL_TEST_REDIS", "redis://127.0.0.1:6379/0")

TOWNHALL = (sys.executable, "-m", "townhall")

pytestmark = pytest.mark.e2e

Message = dict[str, Any]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@dataclass
class Server:
    """One API process and where its output goes."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@dataclass
class Deployment:
    """Two API processes sharing one database and one Redis, with signed-in tokens."""

    servers: list[Server]
    env: dict[str, str]
    database_url: str
    root: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def start_again(self, i: int) -> Server:
        """Start server ``i`` again, on its port and data directory, once it has exited."""
        old = self.servers[i]
        assert old.process.poll() is not None, "still running"
        port = int(old.url.rsplit(":", 1)[1])
        server = start_server(
            self.env, self.database_url, self.root / f"data{i + 1}", port, old.log
        )
        self.servers[i] = server
        _wait_healthy(server)
        return server

    @contextlib.contextmanager
    def explained(self) -> Iterator[None]:
        """A failure inside shows what the processes printed."""
        try:
            yield
        except BaseException as exc:
            logs = "\n".join(
                f"--- {s.log.name} ---\n{s.log.read_text(errors='replace')[-4000:]}"
                for s in self.servers
            )
            raise AssertionError(f"{exc!r}\n{logs}") from exc


def _run_cli(env: dict[str, str], database_url: str, data_dir: Path, *args: str) -> str:
    done = subprocess.run(
        [*TOWNHALL, "--database-url", database_url, "--data-dir", str(data_dir), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def start_server(
    env: dict[str, str], database_url: str, data_dir: Path, port: int, log: Path
) -> Server:
    """Start ``townhall serve`` on ``port``; its output is appended to ``log``."""
    url = f"http://127.0.0.1:{port}"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                *TOWNHALL,
                "--database-url",
                database_url,
                "--data-dir",
                str(data_dir),
                "serve",
                "--port",
                str(port),
            ],
            env={**env, "TOWNHALL_PUBLIC_URL": url},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Server(url, process, log)


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"{server.url} exited:\n{server.log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{server.url} never answered:\n{server.log.read_text()[-3000:]}")


async def _sign_in(url: str, link: str) -> str:
    async with Townhall(url) as th:
        await th.sign_in_with_link(link)
        assert th.token is not None
        return th.token


@contextlib.contextmanager
def two_processes(root: Path, **env_extra: str) -> Iterator[Deployment]:
    """Two API processes on a fresh database and one Redis, with alice and bob signed in;
    ``env_extra`` adds ``TOWNHALL_*`` variables to the processes' environment."""
    name = f"townhall_e2e_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    database_url = f"{base}/{name}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWNHALL_")}
    env.update(
        TOWNHALL_REDIS_URL=REDIS_URL,
        TOWNHALL_REDIS_PREFIX=f"e2e-{uuid.uuid4().hex[:8]}:",
        TOWNHALL_SECRET_KEY="e2e-" + uuid.uuid4().hex,
        TOWNHALL_LOG_LEVEL="WARNING",
        TOWNHALL_LIMIT_ROOM_CREATIONS_PER_USER="100/3600",
    )
    env.update(env_extra)
    deployment = Deployment([], env=env, database_url=database_url, root=root)
    try:
        cli_env = {**env, "TOWNHALL_PUBLIC_URL": "http://127.0.0.1:1"}
        for username in ("alice", "bob"):
            _run_cli(
                cli_env,
                database_url,
                root / "cli",
                "create-member",
                "--email",
                f"{username}@example.org",
                "--username",
                username,
            )
        for i in (1, 2):
            deployment.servers.append(
                start_server(
                    env, database_url, root / f"data{i}", free_port(), root / f"server{i}.log"
                )
            )
        for server in deployment.servers:
            _wait_healthy(server)
        for username in ("alice", "bob"):
            link = _run_cli(cli_env, database_url, root / "cli", "signin-link", username)
            deployment.tokens[username] = asyncio.run(_sign_in(deployment.servers[0].url, link))
        yield deployment
    finally:
        for server in deployment.servers:
            if server.process.poll() is None:
                server.process.terminate()
                try:
                    server.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    server.kill()
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with two_processes(tmp_path_factory.mktemp("processes")) as deployment:
        yield deployment


def named(name: str, **data: Any) -> Any:
    """A matcher for the next room event called ``name`` whose data has ``data``."""

    def match(m: Message) -> bool:
        return (
            m.get("type") == "event"
            and m.get("name") == name
            and all(m.get("data", {}).get(k) == v for k, v in data.items())
        )

    return match


def on_stage(snapshot: Message) -> dict[str, str]:
    return {p["username"]: p["role"] for p in snapshot["stage"]}


async def learns_of_listener(live: Live, client: Townhall, rid: str, username: str) -> int:
    """Follow the room's digests until ``username`` is among its listeners, as a client
    does: from a digest that names them, or from ``/audience`` after one that says it is not
    complete. Returns the count the digest gave."""
    while True:
        digest = await live.wait_for(
            lambda m: m.get("name") == "audience.changed" and m.get("stream") == f"room:{rid}",
            within=PATIENCE,
        )
        data = digest["data"]
        if username in [p["username"] for p in data["members"]]:
            return int(data["listeners"])
        if not data["complete"]:
            page = await client.call("GET", f"/api/rooms/{rid}/audience")
            if username in [p["username"] for p in page["items"]]:
                return int(data["listeners"])


async def test_events_cross_between_processes(deployment: Deployment) -> None:
    """A moderator on one process sees a listener on the other arrive (in a digest) and raise
    a hand, invites them, and sees them on stage once they accept on their own process."""
    one, two = (s.url for s in deployment.servers)
    with deployment.explained():
        async with (
            Townhall(one, deployment.tokens["alice"]) as alice,
            Townhall(two, deployment.tokens["bob"]) as bob,
        ):
            room = await alice.create_room("Across processes", "open", "everyone")
            rid = room["id"]
            async with alice.live() as a_live, bob.live() as b_live:
                await a_live.subscribe(rid)
                snapshot = await bob.join(rid)
                assert snapshot["me"]["role"] == "listener"
                await b_live.subscribe(rid)

                # The listener's arrival is told in the room's digest, led by one process.
                assert await learns_of_listener(a_live, alice, rid, "bob") == 1
                await b_live.request("room.command", room=rid, command="raise_hand")
                await a_live.wait_for(named("hand.raised", username="bob"), within=PATIENCE)

                await a_live.request(
                    "room.command", room=rid, command="invite_to_speak", target="bob"
                )
                invited = await b_live.wait_for(
                    named("speak.invited", username="bob"), within=PATIENCE
                )
                assert invited["data"]["by"] == "alice"

                await b_live.request("room.command", room=rid, command="accept_speak")
                await a_live.wait_for(
                    named("member.updated", username="bob", role="speaker"), within=PATIENCE
                )
            assert on_stage(await alice.room(rid)) == {"alice": "moderator", "bob": "speaker"}
            assert on_stage(await bob.room(rid)) == {"alice": "moderator", "bob": "speaker"}


async def test_client_survives_losing_its_process(deployment: Deployment) -> None:
    """When the moderator's process is killed, their client reconnects to the other process,
    resumes the room without losing an event, and is still its moderator."""
    one, two = deployment.servers
    with deployment.explained():
        async with (
            Townhall(one.url, deployment.tokens["alice"]) as alice,
            Townhall(two.url, deployment.tokens["alice"]) as alice_on_two,
            Townhall(two.url, deployment.tokens["bob"]) as bob,
        ):
            rid = (await alice.create_room("Failover", "open", "everyone"))["id"]
            await bob.join(rid)
            await alice.command(rid, "invite_to_speak", target="bob")
            await bob.command(rid, "accept_speak")
            live = Live([one.url, two.url], deployment.tokens["alice"], reconnect_for=20)
            async with live as a_live, bob.live() as b_live:
                subscribed = await a_live.subscribe(rid)
                assert on_stage(subscribed["snapshot"]) == {"alice": "moderator", "bob": "speaker"}
                await b_live.subscribe(rid)
                assert a_live.url == one.url

                one.kill()
                # Bob speaks up while Alice's client is between processes.
                await b_live.request("room.command", room=rid, command="unmute")
                back = await a_live.wait_for(
                    lambda m: m.get("type") == "reconnected", within=PATIENCE
                )
                assert back["url"] == two.url
                await a_live.wait_for(
                    named("member.updated", username="bob", muted=False), within=PATIENCE
                )

                state = await alice_on_two.room(rid)
                assert state["me"]["role"] == "moderator"
                assert on_stage(state) == {"alice": "moderator", "bob": "speaker"}

                await a_live.request("room.command", room=rid, command="rename", title="Still here")
                await b_live.wait_for(named("room.updated", title="Still here"), within=PATIENCE)
                await a_live.request(
                    "room.command", room=rid, command="move_to_audience", target="bob"
                )
                await a_live.wait_for(
                    named("member.updated", username="bob", role="listener"), within=PATIENCE
                )
            assert on_stage(await alice_on_two.room(rid)) == {"alice": "moderator"}
