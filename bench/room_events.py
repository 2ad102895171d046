"""How long a room event takes to reach every listener of a big room, over real WebSockets.

Starts one ``townhall serve`` process (SQLite, or PostgreSQL + Redis with ``--stack
postgres``), creates a moderator, a guest speaker and N listener accounts in the database,
connects the N listeners with raw ``websockets`` connections from this one process, joins
them to one room, then repeats K times: the moderator invites the guest, the guest
accepts, the moderator moves the guest back to the audience. For the two commands that
every listener must hear about (accept and move to audience) it measures the time from
sending the command to each listener receiving its ``member.updated`` event.

Prints figures only (see bench/README.md). Example::

    python bench/room_events.py --listeners 1000,5000 --rounds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from benchkit import (
    REDIS_URL,
    bench_env,
    cpu_seconds,
    create_accounts,
    create_database,
    drop_database,
    free_port,
    pct,
    raise_fd_limit,
    serving,
)
from websockets.asyncio.client import ClientConnection, connect

PING = '{"type":"ping"'
PONG = '{"type":"pong"}'
MARK = '"name":"member.updated"'


@dataclass
class Listeners:
    """N raw connections that only answer pings and note when a member.updated arrives."""

    url: str
    connections: list[ClientConnection] = field(default_factory=list)
    marks: list[float] = field(default_factory=list)
    errors: int = 0
    closed: int = 0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                text = raw if isinstance(raw, str) else raw.decode()
                if MARK in text:
                    self.marks.append(time.perf_counter())
                elif text.startswith(PING):
                    await ws.send(PONG)
        except Exception:
            self.errors += 1
        self.closed += 1

    async def ask(self, ws: ClientConnection, message: dict[str, Any]) -> bool:
        """Send one request before the reader runs; answers are only searched, not parsed."""
        await ws.send(json.dumps(message))
        while True:
            raw = await ws.recv()
            text = raw if isinstance(raw, str) else raw.decode()
            if text.startswith('{"type":"result"') or '"type":"result"' in text[:40]:
                return '"success":true' in text[:80]
            if text.startswith(PING):
                await ws.send(PONG)

    async def connect_all(
        self, base: str, tokens: list[str], room: str, concurrency: int = 64
    ) -> None:
        """Join everyone over HTTP first, then subscribe from the room's current event
        number, so setting up N listeners does not send N * N member.joined events."""
        gate = asyncio.Semaphore(concurrency)
        joined: list[str] = []
        async with httpx.AsyncClient(base_url=base, timeout=120) as http:

            async def join(token: str) -> None:
                async with gate:
                    r = await http.post(
                        f"/api/rooms/{room}/join", headers={"Authorization": f"Bearer {token}"}
                    )
                    if r.status_code == 200:
                        joined.append(token)
                    else:
                        self.errors += 1
                        if self.errors <= 3:
                            print(f"  join failed: {r.status_code} {r.text[:200]}", file=sys.stderr)

            await asyncio.gather(*(join(t) for t in tokens))
            r = await http.get(
                f"/api/rooms/{room}", headers={"Authorization": f"Bearer {joined[0]}"}
            )
            seq = r.json()["seq"]

        async def one(token: str) -> None:
            async with gate:
                try:
                    ws = await connect(
                        f"{self.url}/api/ws?token={token}",
                        compression=None,
                        ping_interval=None,
                        open_timeout=60,
                        max_size=2**24,
                    )
                    ok = await self.ask(
                        ws, {"id": 1, "type": "subscribe", "room": room, "after": seq}
                    )
                except Exception as exc:
                    self.errors += 1
                    if self.errors <= 3:
                        print(f"  listener failed: {exc!r}", file=sys.stderr)
                    return
                if not ok:
                    self.errors += 1
                self.connections.append(ws)
                self.tasks.append(asyncio.create_task(self.read(ws)))

        await asyncio.gather(*(one(t) for t in joined))

    async def close(self) -> None:
        await asyncio.gather(*(ws.close() for ws in self.connections), return_exceptions=True)
        await asyncio.gather(*self.tasks, return_exceptions=True)


class Actor:
    """The moderator or the guest: a parsed connection that sends commands."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token, self.ids = url, token, 100
        self.ws: ClientConnection | None = None
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}

    async def start(self) -> None:
        self.ws = await connect(
            f"{self.url}/api/ws?token={self.token}", compression=None, max_size=2**24
        )
        asyncio.create_task(self._read())  # noqa: RUF006 - lives as long as the socket

    async def _read(self) -> None:
        assert self.ws is not None
        async for raw in self.ws:
            m = json.loads(raw)
            if m.get("type") == "ping":
                await self.ws.send(PONG)
            elif m.get("type") == "result" and m.get("id") in self.waiting:
                self.waiting.pop(m["id"]).set_result(m)

    async def request(self, type_: str, **fields: Any) -> dict[str, Any]:
        assert self.ws is not None
        self.ids += 1
        future = asyncio.get_running_loop().create_future()
        self.waiting[self.ids] = future
        await self.ws.send(json.dumps({"id": self.ids, "type": type_, **fields}))
        reply: dict[str, Any] = await asyncio.wait_for(future, 30)
        if not reply.get("success"):
            raise RuntimeError(f"{type_} {fields}: {reply.get('error')}")
        return reply


async def measure(
    base: str, ws_base: str, pid: int, tokens: list[str], n: int, rounds: int
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        made = await http.post(
            "/api/rooms",
            json={"title": f"Bench {n}", "kind": "open", "hand_raise": "everyone"},
            headers={"Authorization": f"Bearer {tokens[0]}"},
        )
        made.raise_for_status()
        room = made.json()["id"]
    moderator, guest = Actor(ws_base, tokens[0]), Actor(ws_base, tokens[1])
    await moderator.start()
    await guest.start()
    await moderator.request("subscribe", room=room)
    await guest.request("room.join", room=room)
    await guest.request("subscribe", room=room)

    listeners = Listeners(ws_base)
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    await listeners.connect_all(base, tokens[2 : 2 + n], room)
    connect_wall, connect_cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    connected = len(listeners.connections)
    await asyncio.sleep(1)
    listeners.marks.clear()

    latencies: list[float] = []
    missing = 0
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()

    async def broadcast(send: Any) -> None:
        nonlocal missing
        listeners.marks.clear()
        started = time.perf_counter()
        await send()
        deadline = started + 15
        while len(listeners.marks) < connected and time.perf_counter() < deadline:  # noqa: ASYNC110 - polling keeps the listeners' hot path to one append
            await asyncio.sleep(0.002)
        got = listeners.marks[:connected]
        missing += connected - len(got)
        latencies.extend(t - started for t in got)
        await asyncio.sleep(0.2)  # let the audience.groups event that follows drain

    for _ in range(rounds):
        await moderator.request(
            "room.command", room=room, command="invite_to_speak", target="bench_guest"
        )
        await broadcast(lambda: guest.request("room.command", room=room, command="accept_speak"))
        await broadcast(
            lambda: moderator.request(
                "room.command", room=room, command="move_to_audience", target="bench_guest"
            )
        )
    wall, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0

    print(f"\nlisteners={n}  connected={connected}  errors={listeners.errors}")
    print(f"  connect+join+subscribe: {connect_wall:.1f} s wall, server CPU {connect_cpu:.1f} s")
    if latencies:
        ms = [x * 1000 for x in latencies]
        print(
            f"  command -> listener event, {len(ms)} deliveries over {2 * rounds} broadcasts: "
            f"p50 {pct(ms, 50):.1f} ms  p95 {pct(ms, 95):.1f} ms  p99 {pct(ms, 99):.1f} ms  "
            f"max {max(ms):.1f} ms"
        )
    print(f"  missing deliveries: {missing}  closed during run: {listeners.closed}")
    print(
        f"  role-change phase: {wall:.1f} s wall, server CPU {cpu:.2f} s "
        f"({cpu / max(1, 2 * rounds) * 1000:.0f} ms per broadcast incl. audience.groups)"
    )
    await listeners.close()
    for actor in (moderator, guest):
        if actor.ws is not None:
            await actor.ws.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listeners", default="1000", help="comma-separated sizes, e.g. 1000,5000")
    p.add_argument("--rounds", type=int, default=10, help="invite/accept/move cycles per size")
    p.add_argument("--stack", choices=["sqlite", "postgres"], default="sqlite")
    ns = p.parse_args()
    sizes = [int(x) for x in ns.listeners.split(",")]
    print(f"open files limit raised to {raise_fd_limit()}")

    tmp = Path(tempfile.mkdtemp(prefix="townhall-bench-"))
    port = free_port()
    base, ws_base = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
    env = bench_env(
        tmp,
        base,
        room_listener_capacity=str(max(sizes) + 10),
        # Joined listeners are all connected; a long presence window keeps the sweeper quiet.
        room_presence_timeout_seconds="600",
        room_reconnect_seconds="600",
    )
    db_name = None
    if ns.stack == "postgres":
        db_name, database_url = asyncio.run(create_database())
        env.update(TOWNHALL_REDIS_URL=REDIS_URL, TOWNHALL_REDIS_PREFIX=f"bench-{db_name}:")
    else:
        database_url = f"sqlite+aiosqlite:///{tmp / 'townhall.db'}"
    os.environ.update({k: v for k, v in env.items() if k.startswith("TOWNHALL_")})
    try:
        t0 = time.perf_counter()
        names = ["bench_mod", "bench_guest", *(f"listener{i}" for i in range(max(sizes)))]
        tokens = asyncio.run(create_accounts(env, database_url, names))
        print(f"{len(tokens)} accounts with sessions in {time.perf_counter() - t0:.1f} s")
        with serving(env, database_url, tmp, port) as pid:
            print(f"server pid {pid} on {base} ({ns.stack})")
            for n in sizes:
                asyncio.run(measure(base, ws_base, pid, tokens, n, ns.rounds))
    finally:
        if db_name:
            asyncio.run(drop_database(db_name))


if __name__ == "__main__":
    main()
