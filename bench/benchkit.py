"""What every benchmark here shares: accounts straight in the database, one real
``townhall serve`` process, its CPU time, and percentiles. Not a benchmark of its own."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert, select

from townhall.app import Container, build_container
from townhall.client.http import link_token
from townhall.config import load_settings
from townhall.security import email_hash, hash_token, new_token
from townhall.storage.models import Session, User

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"


def raise_fd_limit() -> int:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process: system time includes loopback delivery."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def bench_env(tmp: Path, base: str, **settings: str) -> dict[str, str]:
    """The server's environment: this one without TOWNHALL_*, plus bench settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWNHALL_")}
    env.update(
        BENCH_DATA_DIR=str(tmp),
        TOWNHALL_PUBLIC_URL=base,
        TOWNHALL_SECRET_KEY="bench-" + uuid.uuid4().hex,
        TOWNHALL_LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        TOWNHALL_LIMIT_ROOM_CREATIONS_PER_USER="1000/3600",
        TOWNHALL_LIMIT_SIGN_IN_ATTEMPTS_PER_IP="100000000/1",
        TOWNHALL_LIMIT_MEDIA_OFFERS_PER_USER="100000/1",
        **{f"TOWNHALL_{k.upper()}": v for k, v in settings.items()},
    )
    return env


def bench_container(env: dict[str, str], database_url: str) -> Container:
    settings = load_settings(
        None,
        database_url=database_url,
        data_dir=Path(env["BENCH_DATA_DIR"]),
        limit_sign_in_attempts_per_ip="100000000/1",
        media_workers=0,  # seeding needs no media
    )
    return build_container(settings)


async def create_accounts(env: dict[str, str], database_url: str, names: list[str]) -> list[str]:
    """Members with token sessions, straight through the domain layer (no HTTP, no mail)."""
    container = bench_container(env, database_url)
    try:
        await container.db.migrate()
        accounts = container.accounts
        gate = asyncio.Semaphore(1 if container.db.dialect == "sqlite" else 16)

        async def one(name: str) -> str:
            async with gate:
                await accounts.create_account(f"{name}@example.org", name)
                link = await accounts.create_sign_in_link(name)
                signed = await accounts.use_sign_in_link(
                    link_token(link), "127.0.0.1", kind="token"
                )
                return signed.token

        return list(await asyncio.gather(*(one(n) for n in names)))
    finally:
        await container.close()


async def seed_accounts(env: dict[str, str], database_url: str, names: list[str]) -> list[str]:
    """Members with token sessions, inserted in bulk (two statements): thousands in a few
    seconds, where ``create_accounts`` takes several transactions per person."""
    container = bench_container(env, database_url)
    now = datetime.now(UTC)
    tokens = [new_token() for _ in names]
    try:
        await container.db.migrate()
        async with container.db.transaction() as tx:
            await tx.execute(
                insert(User),
                [
                    {
                        "email": f"{n}@example.org",
                        "username": n,
                        "display_name": "",
                        "bio": "",
                        "links": {},
                        "status": "member",
                        "show_nominator": True,
                        "invites_left": 0,
                        "email_hash": email_hash(f"{n}@example.org"),
                        "created_at": now,
                        "joined_at": now,
                    }
                    for n in names
                ],
            )
            ids = dict((await tx.execute(select(User.username, User.id))).tuples().all())
            await tx.execute(
                insert(Session),
                [
                    {
                        "user_id": ids[n],
                        "token_hash": hash_token(t),
                        "kind": "token",
                        "name": "bench",
                        "created_at": now,
                        "last_used_at": now,
                        "expires_at": now + timedelta(days=30),
                    }
                    for n, t in zip(names, tokens, strict=True)
                ],
            )
        return tokens
    finally:
        await container.close()


@contextmanager
def serving(
    env: dict[str, str], database_url: str, tmp: Path, port: int, log_name: str = "server.log"
) -> Iterator[int]:
    """One ``townhall serve`` process until the block ends; yields its pid. Under
    ``profiled_serve.py`` when ``BENCH_PROFILE`` is set (see ``profile_window``)."""
    if env.get("BENCH_PROFILE"):
        cmd = [sys.executable, str(Path(__file__).with_name("profiled_serve.py"))]
    else:
        cmd = [sys.executable, "-m", "townhall"]
    cmd += ["--database-url", database_url]
    cmd += ["--data-dir", str(tmp), "serve", "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    with (tmp / log_name).open("wb") as log:
        server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)
        print(f"server log: {tmp / log_name}")


def profile_window(pids: list[int], start: bool) -> None:
    """Start (or stop and write) the servers' profiles when they run under
    ``profiled_serve.py``; nothing otherwise."""
    if os.environ.get("BENCH_PROFILE"):
        for pid in pids:
            os.kill(pid, signal.SIGUSR1 if start else signal.SIGUSR2)


async def create_database() -> tuple[str, str]:
    import asyncpg

    name = f"townhall_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return name, f"{base}/{name}"


async def drop_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
