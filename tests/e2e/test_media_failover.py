"""A media worker dies mid-room and the room goes on: real ``townhall media`` and
``townhall serve`` processes, real audio checked by FFT.

Two workers; the API process(es) link to both (``media_worker_addresses``). On SQLite one
API process; on PostgreSQL + Redis two, the listener signalling through the second. The
worker that holds the room is killed with SIGKILL: everyone is told ``audio.reconnect``,
their clients connect again by themselves, the room's mix is on the other worker, the
speaker is heard again and the muted speaker still is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

from tests.e2e.test_processes import (
    POSTGRES_ADMIN,
    REDIS_URL,
    TOWNHALL,
    Server,
    _admin,
    _run_cli,
    _sign_in,
    _wait_healthy,
    free_port,
)
from tests.media.incidentkit import ABSENT, PRESENT
from tests.media.voicekit import band_share, recent
from tests.waiting import PATIENCE, until
from townhall.client import Townhall
from townhall.client.voice import RoomAudio, ToneSource

pytestmark = pytest.mark.e2e

LOOPBACK = ("127.0.0.1",)


@dataclass
class MediaWorker:
    address: str
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Deployment:
    servers: list[Server]
    workers: list[MediaWorker]
    database_url: str
    tokens: dict[str, str] = field(default_factory=dict)

    @contextlib.contextmanager
    def explained(self) -> Iterator[None]:
        """A failure inside shows what every process printed."""
        try:
            yield
        except BaseException as exc:
            logs = "\n".join(
                f"--- {p.log.name} ---\n{p.log.read_text(errors='replace')[-4000:]}"
                for p in [*self.servers, *self.workers]
            )
            raise AssertionError(f"{exc!r}\n{logs}") from exc

    async def home_of(self, room_id: str) -> str | None:
        """The room's media worker, as the database records it."""
        if self.database_url.startswith("sqlite"):
            path = self.database_url.split("///", 1)[1]
            with contextlib.closing(sqlite3.connect(path)) as db:
                row = db.execute(
                    "SELECT worker FROM media_rooms WHERE room_id = ?", (room_id,)
                ).fetchone()
            return row[0] if row else None
        conn = await asyncpg.connect(self.database_url.replace("+asyncpg", ""))
        try:
            return await conn.fetchval("SELECT worker FROM media_rooms WHERE room_id = $1", room_id)
        finally:
            await conn.close()


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([*TOWNHALL, *args], env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_listening(worker: MediaWorker) -> None:
    deadline = time.monotonic() + PATIENCE * 4  # the first start may build the native loop
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise AssertionError(f"worker exited:\n{worker.log.read_text()[-3000:]}")
        if "media worker listening on" in worker.log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise AssertionError(f"worker never listened:\n{worker.log.read_text()[-3000:]}")


@pytest.fixture(params=["sqlite", "postgres"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    stack = request.param
    root = tmp_path_factory.mktemp(f"failover-{stack}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWNHALL_")}
    env.update(
        TOWNHALL_SECRET_KEY="e2e-" + uuid.uuid4().hex,
        TOWNHALL_LOG_LEVEL="INFO",
        TOWNHALL_LOG_FORMAT="text",
        TOWNHALL_MEDIA_BIND_ADDRESSES=json.dumps(list(LOOPBACK)),
        TOWNHALL_MEDIA_WORKERS="0",
    )
    name = f"townhall_failover_{uuid.uuid4().hex[:12]}"
    if stack == "postgres":
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        database_url = f"{base}/{name}"
        env.update(
            TOWNHALL_REDIS_URL=REDIS_URL, TOWNHALL_REDIS_PREFIX=f"e2e-{uuid.uuid4().hex[:8]}:"
        )
    else:
        database_url = f"sqlite+aiosqlite:///{root / 'townhall.db'}"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        workers = []
        for i in (1, 2):
            address = f"127.0.0.1:{free_port()}"
            log = root / f"worker{i}.log"
            process = _start(
                ["--data-dir", str(root / "data"), "media", "--listen", address], env, log
            )
            processes.append(process)
            workers.append(MediaWorker(address, process, log))
        for worker in workers:
            _wait_listening(worker)
        env["TOWNHALL_MEDIA_WORKER_ADDRESSES"] = json.dumps([w.address for w in workers])
        cli_env = {**env, "TOWNHALL_PUBLIC_URL": "http://127.0.0.1:1"}
        for username in ("ann", "bob", "liz"):
            _run_cli(
                cli_env,
                database_url,
                root / "data",
                "create-member",
                "--email",
                f"{username}@example.org",
                "--username",
                username,
            )
        servers = []
        for i in range(1 if stack == "sqlite" else 2):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            log = root / f"server{i + 1}.log"
            args = ["--database-url", database_url, "--data-dir", str(root / "data")]
            process = _start(
                [*args, "serve", "--port", str(port)], {**env, "TOWNHALL_PUBLIC_URL": url}, log
            )
            processes.append(process)
            servers.append(Server(url, process, log))
        for server in servers:
            _wait_healthy(server)
        deployment = Deployment(servers, workers, database_url)
        for username in ("ann", "bob", "liz"):
            link = _run_cli(cli_env, database_url, root / "data", "signin-link", username)
            deployment.tokens[username] = asyncio.run(_sign_in(servers[0].url, link))
        yield deployment
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if stack == "postgres":
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.asynccontextmanager
async def following(client: Townhall, room_id: str, audio: RoomAudio) -> AsyncIterator[None]:
    """The client follows the room's live stream and hands it to its audio, as an app does."""
    async with client.live() as live:
        await live.subscribe(room_id)

        async def read() -> None:
            async for message in live.events():
                audio.handle(message)

        reader = asyncio.create_task(read())
        try:
            yield
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await reader


async def test_a_killed_worker_s_room_goes_on(deployment: Deployment) -> None:
    urls = [s.url for s in deployment.servers]
    listener_url = urls[-1]
    with deployment.explained():
        async with (
            Townhall(urls[0], deployment.tokens["ann"]) as ann,
            Townhall(urls[0], deployment.tokens["bob"]) as bob,
            Townhall(listener_url, deployment.tokens["liz"]) as liz,
        ):
            room = await ann.create_room("Failover", "open", "everyone")
            rid = room["id"]
            if room["me"]["muted"]:
                await ann.command(rid, "unmute")
            await bob.join(rid)
            await liz.join(rid)
            await ann.command(rid, "invite_to_speak", target="bob")
            await bob.command(rid, "accept_speak")
            if not (await bob.room(rid))["me"]["muted"]:
                await bob.command(rid, "mute")

            def open_audio(client: Townhall, tone: float | None) -> asyncio.Task[RoomAudio]:
                return asyncio.ensure_future(
                    RoomAudio.open(
                        client.signalling(rid),
                        source=ToneSource(tone) if tone else None,
                        bind_addresses=LOOPBACK,
                        wait=PATIENCE,
                    )
                )

            a, b, listener = await asyncio.gather(
                open_audio(ann, 440), open_audio(bob, 660), open_audio(liz, None)
            )
            try:
                async with (
                    following(ann, rid, a),
                    following(bob, rid, b),
                    following(liz, rid, listener),
                ):
                    await until(
                        lambda: band_share(recent(listener, 0.4), 440) > PRESENT,
                        "liz to hear ann",
                    )
                    home = await deployment.home_of(rid)
                    dying = next(w for w in deployment.workers if w.address == home)
                    dying.process.send_signal(signal.SIGKILL)
                    dying.process.wait(timeout=10)
                    killed_at = time.monotonic()

                    await until(
                        lambda: all(x.reconnects >= 1 and x.connected for x in (a, b, listener)),
                        "everyone to connect again",
                    )
                    anew = time.monotonic()  # what arrives from now is the new connection's
                    await until(
                        lambda: band_share(recent(listener, 0.4, since=anew), 440) > PRESENT,
                        "liz to hear ann again",
                    )
                    heard_again = time.monotonic() - killed_at
                    assert await deployment.home_of(rid) != home
                    # Bob, on stage and muted before, still is: never heard, and he hears ann.
                    after = recent(listener, 1.0, since=anew)
                    assert band_share(after, 660) < ABSENT
                    await until(
                        lambda: band_share(recent(b, 0.4, since=anew), 440) > PRESENT,
                        "bob to hear ann again",
                    )
                    print(f"liz heard the room again {heard_again:.2f} s after the kill")
                room = await liz.room(rid)
                roles = {p["username"]: (p["role"], p["muted"]) for p in room["stage"]}
                assert roles == {"ann": ("moderator", False), "bob": ("speaker", True)}
            finally:
                for audio in (a, b, listener):
                    await audio.close()
