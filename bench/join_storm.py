"""A room filling up: N people with open sockets join one room over the WebSocket at R
joins per second, and what that costs the server and every socket already in the room.

Starts one ``townhall serve`` on SQLite in a temporary data directory, or, with ``--stack
postgres``, a fresh PostgreSQL database (dropped afterwards), Redis under a key prefix of
its own and two API processes with the people spread over both. Seeds a host and N
people with token sessions straight into the database, the host opens a room over HTTP,
and every person opens a socket (which follows their own notices) before the storm. Then
the load generator (``--workers`` processes, one asyncio loop each, raw ``websockets``)
sends person i's ``room.join`` at t0 + i / R, whatever the answers to earlier joins.

Prints joined/failed, join latency (command sent to its result), server CPU per join
(user + system of the API processes from ``/proc``, from the first join until every
socket has seen the final count), messages the sockets received per join, sockets closed
by close code, the time until every joined socket has seen the room's final audience
count, and the load generator's own CPU. See bench/README.md. Example::

    python bench/join_storm.py 1000 --rate 50 [--stack postgres] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
from benchkit import (
    REDIS_URL,
    bench_env,
    cpu_seconds,
    create_database,
    drop_database,
    free_port,
    pct,
    profile_window,
    raise_fd_limit,
    seed_accounts,
    serving,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

PONG = '{"type":"pong"}'


def audience_count(count: int | None, seq: int, message: dict[str, Any]) -> tuple[int | None, int]:
    """The listener count and last seq a socket holds after one more message.

    The join's result (or a resync snapshot) gives ``listeners``; after it, either the
    ``audience.changed`` digest carries the count (``listeners``), or ``member.joined``
    (as a listener) and ``member.left`` move it by one (here only listeners come and go).
    Numbered events at or below the snapshot's seq are already in it."""
    kind = message.get("type")
    if kind in ("result", "snapshot"):
        snap = message.get("snapshot") or (message.get("result") or {}).get("snapshot")
        return (snap["listeners"], snap["seq"]) if snap else (count, seq)
    if kind != "event" or count is None:
        return count, seq
    at = message.get("seq")
    if at is not None:
        if at <= seq:
            return count, seq
        seq = at
    name, data = message.get("name"), message.get("data") or {}
    if name == "audience.changed":
        return int(data.get("listeners", data.get("count", count))), seq
    if name == "member.joined" and data.get("role") == "listener":
        return count + 1, seq
    if name == "member.left":
        return count - 1, seq
    return count, seq


@dataclass(slots=True)
class Person:
    """One socket: what it believes the audience count is, and since when."""

    index: int
    ws: ClientConnection
    count: int | None = None
    seq: int = 0
    changed_at: float = 0.0
    answer: asyncio.Future[dict[str, Any]] | None = None
    joined: bool = False
    closed: int | None = None


@dataclass
class Generator:
    """One load-generator process: its share of the sockets and what they saw."""

    room: str
    people: list[Person] = field(default_factory=list)
    messages: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    pings: int = 0
    counting: bool = False
    closes: Counter[str] = field(default_factory=Counter)
    early: Counter[str] = field(default_factory=Counter)
    """Sockets closed before the storm began (their joins fail too)."""
    failures: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    late: list[float] = field(default_factory=list)
    last_answer: float = 0.0
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def read(self, p: Person) -> None:
        try:
            async for raw in p.ws:
                if self.counting:
                    self.messages += 1
                m = json.loads(raw)
                if self.counting:
                    self.kinds[m.get("name") or m.get("type") or "?"] += 1
                if m.get("type") == "ping":
                    self.pings += self.counting
                    await p.ws.send(PONG)
                    continue
                count = p.count
                p.count, p.seq = audience_count(p.count, p.seq, m)
                if p.count != count:
                    p.changed_at = time.monotonic()
                if m.get("type") == "result" and p.answer is not None and not p.answer.done():
                    p.answer.set_result(m)
        except ConnectionClosed:
            pass
        p.closed = p.ws.close_code if p.ws.close_code is not None else 1006
        why = f"{p.closed} {p.ws.close_reason or ''}".strip()
        (self.closes if self.counting else self.early)[why] += 1
        if p.answer is not None and not p.answer.done():
            p.answer.set_exception(ConnectionError(f"closed {p.closed}"))

    async def open_all(self, urls: list[str], tokens: list[tuple[int, str]]) -> int:
        gate = asyncio.Semaphore(32)
        failed = 0

        async def one(index: int, token: str) -> None:
            nonlocal failed
            async with gate:
                try:
                    ws = await connect(
                        f"{urls[index % len(urls)]}/api/ws?token={token}",
                        compression=None,
                        ping_interval=None,
                        open_timeout=120,
                        max_size=2**24,
                    )
                except Exception as exc:
                    failed += 1
                    if failed <= 3:
                        print(f"  socket {index} failed: {exc!r}", file=sys.stderr)
                    return
            p = Person(index, ws)
            self.people.append(p)
            self.tasks.append(asyncio.create_task(self.read(p)))

        await asyncio.gather(*(one(i, t) for i, t in tokens))
        return failed

    async def join(self, p: Person, patience: float) -> None:
        p.answer = asyncio.get_running_loop().create_future()
        sent = time.monotonic()
        try:
            await p.ws.send(json.dumps({"id": 1, "type": "room.join", "room": self.room}))
            reply = await asyncio.wait_for(p.answer, patience)
        except TimeoutError:
            self.failures["timeout"] += 1
            return
        except (ConnectionError, ConnectionClosed):
            self.failures[f"closed {p.closed}"] += 1
            return
        self.last_answer = max(self.last_answer, time.monotonic())
        if reply.get("success"):
            p.joined = True
            self.latencies.append(time.monotonic() - sent)
        else:
            self.failures[(reply.get("error") or {}).get("code", "?")] += 1

    async def storm(self, t0: float, rate: float, patience: float) -> None:
        """Each join at its own moment; a late answer never delays the next join."""
        self.counting = True
        joins = []
        for p in sorted(self.people, key=lambda p: p.index):
            due = t0 + p.index / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.late.append(max(0.0, time.monotonic() - due))
            joins.append(asyncio.create_task(self.join(p, patience)))
        await asyncio.gather(*joins)

    async def settle(self, target: int, deadline: float) -> None:
        def waiting() -> int:
            return sum(
                1 for p in self.people if p.joined and p.closed is None and p.count != target
            )

        while waiting() and time.monotonic() < deadline:  # noqa: ASYNC110 - readers stay a plain loop
            await asyncio.sleep(0.05)


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def worker(pipe: Connection, urls: list[str], room: str, tokens: list[tuple[int, str]]) -> None:
    """One load-generator process, driven step by step by the main process."""
    raise_fd_limit()
    asyncio.run(drive(pipe, urls, room, tokens))


async def drive(
    pipe: Connection, urls: list[str], room: str, tokens: list[tuple[int, str]]
) -> None:
    loop = asyncio.get_running_loop()

    async def receive() -> Any:
        return await loop.run_in_executor(None, pipe.recv)

    g = Generator(room)
    failed = await g.open_all(urls, tokens)
    await asyncio.sleep(1)  # the connection's own first messages are not the storm's
    pipe.send(("open", len(g.people), failed))
    _, t0, rate, patience = await receive()
    cpu0 = own_cpu()
    await g.storm(t0, rate, patience)
    pipe.send(("joined", g.last_answer))
    _, target, deadline = await receive()
    await g.settle(target, deadline)
    g.counting = False
    seen = [p.changed_at for p in g.people if p.joined and p.closed is None and p.count == target]
    missed = sum(1 for p in g.people if p.joined and p.closed is None and p.count != target)
    report = {
        "latencies": g.latencies,
        "late": max(g.late, default=0.0),
        "failures": dict(g.failures),
        "closes": dict(g.closes),
        "early": dict(g.early),
        "messages": g.messages,
        "kinds": dict(g.kinds),
        "pings": g.pings,
        "seen_last": max(seen, default=0.0),
        "seen": len(seen),
        "missed": missed,
        "cpu": own_cpu() - cpu0,
    }
    pipe.send(("report", report))
    await receive()
    await asyncio.gather(*(p.ws.close() for p in g.people), return_exceptions=True)
    await asyncio.gather(*g.tasks, return_exceptions=True)


def run_storm(ns: argparse.Namespace, bases: list[str], pids: list[int], tokens: list[str]) -> None:
    host, people = tokens[0], tokens[1:]
    made = httpx.post(
        f"{bases[0]}/api/rooms",
        json={"title": f"Storm {ns.people}", "kind": "open", "hand_raise": "everyone"},
        headers={"Authorization": f"Bearer {host}"},
        timeout=60,
    )
    made.raise_for_status()
    room = made.json()["id"]
    urls = [b.replace("http://", "ws://") for b in bases]

    context = multiprocessing.get_context("spawn")
    pipes, procs = [], []
    for w in range(ns.workers):
        mine, theirs = context.Pipe()
        share = [(i, t) for i, t in enumerate(people) if i % ns.workers == w]
        proc = context.Process(target=worker, args=(theirs, urls, room, share))
        proc.start()
        pipes.append(mine)
        procs.append(proc)

    t_open = time.perf_counter()
    opened = [pipe.recv() for pipe in pipes]
    sockets = sum(o[1] for o in opened)
    print(
        f"{sockets} sockets open ({sum(o[2] for o in opened)} failed) "
        f"in {time.perf_counter() - t_open:.1f} s over {ns.workers} load-generator process(es)"
    )

    t0 = time.monotonic() + 1.0
    for pipe in pipes:
        pipe.send(("go", t0, ns.rate, ns.join_timeout))
    time.sleep(max(0.0, t0 - time.monotonic()))
    cpu0 = sum(cpu_seconds(pid) for pid in pids)
    profile_window(pids, start=True)
    last_answer = max(pipe.recv()[1] for pipe in pipes)
    joins_done = time.monotonic()
    joins_cpu = sum(cpu_seconds(pid) for pid in pids) - cpu0
    state = httpx.get(
        f"{bases[0]}/api/rooms/{room}", headers={"Authorization": f"Bearer {host}"}, timeout=60
    )
    state.raise_for_status()
    target = int(state.json()["listeners"])
    for pipe in pipes:
        pipe.send(("target", target, time.monotonic() + ns.settle))
    reports = [pipe.recv()[1] for pipe in pipes]
    wall = time.monotonic() - t0
    server_cpu = sum(cpu_seconds(pid) for pid in pids) - cpu0
    profile_window(pids, start=False)
    for pipe in pipes:
        pipe.send(("close",))
    for proc in procs:
        proc.join(timeout=60)

    latencies = [x * 1000 for r in reports for x in r["latencies"]]
    joined = len(latencies)
    failures: Counter[str] = Counter()
    closes: Counter[str] = Counter()
    early: Counter[str] = Counter()
    for r in reports:
        early.update(r["early"])
        failures.update(r["failures"])
        closes.update(r["closes"])
    messages = sum(r["messages"] for r in reports)
    kinds: Counter[str] = Counter()
    for r in reports:
        kinds.update(r["kinds"])
    pings = sum(r["pings"] for r in reports)
    seen = sum(r["seen"] for r in reports)
    missed = sum(r["missed"] for r in reports)
    seen_last = max(r["seen_last"] for r in reports)
    generator_cpu = sum(r["cpu"] for r in reports)
    per_join = max(1, joined)

    print(f"\npeople={ns.people}  rate={ns.rate:g}/s  stack={ns.stack}  api processes={len(pids)}")
    print(f"  joined {joined}, failed {sum(failures.values())} {dict(failures) or ''}")
    print(f"  room's listener count at the end: {target}")
    if latencies:
        print(
            f"  join latency p50 {pct(latencies, 50):.0f} ms  p95 {pct(latencies, 95):.0f} ms  "
            f"p99 {pct(latencies, 99):.0f} ms  max {max(latencies):.0f} ms"
        )
    print(
        f"  joins sent over {ns.people / ns.rate:.1f} s as scheduled; the generator was at most "
        f"{max(r['late'] for r in reports) * 1000:.0f} ms late; last answer "
        f"{last_answer - t0:.1f} s after the first join"
    )
    print(
        f"  server CPU {server_cpu:.1f} s over {wall:.1f} s: "
        f"{server_cpu / per_join * 1000:.1f} ms per join "
        f"({joins_cpu / per_join * 1000:.1f} ms until the joins were answered)"
    )
    print(
        f"  messages delivered: {messages} ({pings} heartbeat pings): "
        f"{messages / per_join:.1f} per join, {(messages - pings) / per_join:.1f} without pings"
    )
    print("  by kind: " + ", ".join(f"{k} {v}" for k, v in kinds.most_common()))
    print(f"  sockets closed during the storm: {sum(closes.values())} {dict(closes) or ''}")
    if early:
        print(f"  sockets closed before it: {sum(early.values())} {dict(early)}")
    if seen and not missed:
        print(
            f"  every joined socket saw the final count {target} {seen_last - t0:.2f} s after "
            f"the first join ({max(0.0, seen_last - last_answer):.2f} s after the last answer)"
        )
    else:
        print(
            f"  {seen} joined sockets saw the final count {target}; {missed} had not "
            f"{ns.settle:g} s after the joins ended ({joins_done - t0:.1f} s after the first)"
        )
    print(
        f"  load generator CPU {generator_cpu:.1f} s "
        f"({generator_cpu / per_join * 1000:.1f} ms per join, "
        f"{generator_cpu / max(wall, 1e-9) * 100:.0f} % of a core over the run)"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("people", type=int, help="how many people join")
    p.add_argument("--rate", type=float, default=50, help="joins per second")
    p.add_argument("--stack", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--workers", type=int, default=1, help="load-generator processes")
    p.add_argument("--join-timeout", type=float, default=60, help="seconds to wait for a join")
    p.add_argument(
        "--settle", type=float, default=120, help="seconds after the joins to wait for the count"
    )
    p.add_argument(
        "--media-workers",
        default="auto",
        help="media worker processes each API process starts (serve's media_workers)",
    )
    ns = p.parse_args()
    print(f"open files limit raised to {raise_fd_limit()}")

    tmp = Path(tempfile.mkdtemp(prefix="townhall-storm-"))
    ports = [free_port() for _ in range(2 if ns.stack == "postgres" else 1)]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    env = bench_env(
        tmp,
        bases[0],
        room_listener_capacity=str(ns.people + 10),
        # Every socket stays open; a long presence window keeps the sweeper out of the figures.
        room_presence_timeout_seconds="600",
        room_reconnect_seconds="600",
        media_workers=ns.media_workers,
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
        names = ["storm_host", *(f"person{i}" for i in range(ns.people))]
        tokens = asyncio.run(seed_accounts(env, database_url, names))
        print(f"{len(tokens)} accounts with sessions in {time.perf_counter() - t0:.1f} s")
        with ExitStack() as stack:
            pids = [
                stack.enter_context(serving(env, database_url, tmp, port, f"server{i}.log"))
                for i, port in enumerate(ports)
            ]
            print(f"API process(es) {pids} on {', '.join(bases)} ({ns.stack})")
            run_storm(ns, bases, pids, tokens)
    finally:
        if db_name:
            asyncio.run(drop_database(db_name))


if __name__ == "__main__":
    main()
