"""One room, one speaker, N listeners as real WebRTC receivers: what a listener costs.

Starts one ``townhall serve`` (SQLite, embedded media on 127.0.0.1), creates a moderator
and N listener accounts and puts the listeners in the room directly in the database (so
the figures are about audio, not about N joins). The moderator speaks a tone through the
Python client (a real aiortc sender). The load generator runs in W worker processes; each
listener is a real aiortc RTCPeerConnection (ICE, DTLS, SRTP keys) whose incoming RTP is
then only counted by sequence number from the clear RTP header: no decryption, no
decoding, so the load generator stays light. After a warm-up it measures for a window:
server CPU (from /proc), packets received, and loss by sequence gaps per listener.

    python bench/fanout.py --listeners 500,1000,2000 --seconds 10 [--frame-ms 20|40|60]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

import httpx
from aiortc import RTCPeerConnection, RTCSessionDescription
from benchkit import (
    bench_container,
    bench_env,
    cpu_seconds,
    cpu_split,
    create_accounts,
    free_port,
    raise_fd_limit,
    serving,
)

from townhall.client.voice import RoomAudio, ToneSource
from townhall.media import ice, shim
from townhall.storage import rooms as room_store
from townhall.storage import users as user_store

LOOPBACK = ice.Binding(addresses=("127.0.0.1",))


@dataclass
class Counter:
    first: int = -1
    last: int = -1
    count: int = 0

    def reset(self) -> None:
        self.first = self.last = -1
        self.count = 0

    def seen(self, seq: int) -> None:
        if self.first < 0:
            self.first = self.last = seq
        else:
            step = (seq - (self.last & 0xFFFF)) & 0xFFFF
            if step >= 0x8000:
                return  # late or repeated
            self.last += step
        self.count += 1

    @property
    def expected(self) -> int:
        return 0 if self.first < 0 else self.last - self.first + 1


async def light_listener(base: str, room: str, token: str) -> tuple[RTCPeerConnection, Counter]:
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="recvonly")
    ice.bind(pc, LOOPBACK)
    connected = asyncio.Event()

    @pc.on("connectionstatechange")
    def changed() -> None:
        if pc.connectionState == "connected":
            connected.set()

    await pc.setLocalDescription(await pc.createOffer())
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        r = await http.post(
            f"/api/rooms/{room}/media",
            json={"type": "offer", "sdp": pc.localDescription.sdp},
            headers={"Authorization": f"Bearer {token}"},
        )
        r.raise_for_status()
    await pc.setRemoteDescription(RTCSessionDescription(r.json()["sdp"], "answer"))
    await asyncio.wait_for(connected.wait(), 60)
    counter = Counter()
    for connection in shim.ice_connections(pc):
        for protocol in shim.protocols(connection):
            passed = protocol.datagram_received

            def received(data: Any, addr: Any, _pass: Any = passed) -> None:
                if 127 < data[0] < 192 and not 192 <= data[1] <= 223:  # RTP, not RTCP
                    counter.seen((data[2] << 8) | data[3])
                elif not 127 < data[0] < 192:
                    _pass(data, addr)

            protocol.datagram_received = received  # type: ignore[method-assign]
    return pc, counter


def worker(base: str, room: str, tokens: list[str], pipe: Pipe) -> None:
    raise_fd_limit()

    async def run() -> None:
        gate = asyncio.Semaphore(24)
        made: list[tuple[RTCPeerConnection, Counter]] = []
        failed = 0

        async def one(token: str) -> None:
            nonlocal failed
            async with gate:
                try:
                    made.append(await light_listener(base, room, token))
                except Exception as exc:
                    failed += 1
                    if failed <= 2:
                        print(f"  listener failed: {exc!r}")

        await asyncio.gather(*(one(t) for t in tokens))
        pipe.send(("ready", len(made), failed))
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, pipe.recv)
            if command == "start":
                for _, c in made:
                    c.reset()
            elif command == "stop":
                received = sum(c.count for _, c in made)
                expected = sum(c.expected for _, c in made)
                silent = sum(1 for _, c in made if c.count == 0)
                down = sum(1 for pc, _ in made if pc.connectionState != "connected")
                pipe.send(("counts", received, expected, silent, down))
            else:
                break
        await asyncio.gather(*(pc.close() for pc, _ in made), return_exceptions=True)

    asyncio.run(run())


async def seat_listeners(env: dict[str, str], database_url: str, n: int) -> str:
    """The moderator's room, with listener0..listener<n-1> in its audience."""
    container = bench_container(env, database_url)
    try:
        async with container.db.transaction() as tx:
            mod = await user_store.by_username(tx, "bench_mod")
        assert mod is not None
        room = (await container.rooms.create(mod, f"Fan-out {n}", "open", "everyone"))["id"]
        now = container.clock.now()
        async with container.db.transaction() as tx:
            users = await user_store.by_usernames(tx, [f"listener{i}" for i in range(n)])
            for u in users:
                await room_store.add_member(tx, room, u.id, "listener", now)
        return str(room)
    finally:
        await container.close()


async def speak(base: str, room: str, token: str) -> RoomAudio:
    async with httpx.AsyncClient(base_url=base) as http:
        auth = {"Authorization": f"Bearer {token}"}
        r = await http.post(f"/api/rooms/{room}/commands", json={"command": "unmute"}, headers=auth)
        r.raise_for_status()
    from townhall.client.http import Townhall

    th = Townhall(base, token)
    return await RoomAudio.open(
        th.signalling(room), source=ToneSource(440), bind_addresses=("127.0.0.1",), wait=30
    )


def measure(base: str, pid: int, env: dict[str, str], db: str, n: int, ns: Any, tokens: list[str]):
    room = asyncio.run(seat_listeners(env, db, n))
    workers = max(1, min(ns.workers, n // 50 or 1))
    shares = [tokens[2 + i : 2 + n : workers] for i in range(workers)]
    pipes, procs = [], []
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    for share in shares:
        ours, theirs = mp.Pipe()
        proc = mp.Process(target=worker, args=(base, room, share, theirs), daemon=True)
        proc.start()
        pipes.append(ours)
        procs.append(proc)
    ready = [p.recv() for p in pipes]
    connected = sum(r[1] for r in ready)
    failed = sum(r[2] for r in ready)
    setup_wall, setup_cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0

    loop = asyncio.new_event_loop()
    speaker = loop.run_until_complete(speak(base, room, tokens[0]))

    async def hold(seconds: float) -> None:
        await asyncio.sleep(seconds)

    loop.run_until_complete(hold(ns.warmup))
    for p in pipes:
        p.send("start")
    split0 = cpu_split(pid)
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    loop.run_until_complete(hold(ns.seconds))
    for p in pipes:
        p.send("stop")
    counts = [p.recv() for p in pipes]
    wall, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    user, system = (b - a for a, b in zip(split0, cpu_split(pid), strict=True))
    loop.run_until_complete(speaker.close())
    loop.close()
    for p in pipes:
        p.send("quit")
    for proc in procs:
        proc.join(timeout=60)

    received = sum(c[1] for c in counts)
    expected = sum(c[2] for c in counts)
    silent = sum(c[3] for c in counts)
    down = sum(c[4] for c in counts)
    nominal = connected * wall * 1000 / ns.frame_ms
    loss = 1 - received / expected if expected else 1.0
    short = 1 - received / nominal if nominal else 1.0
    print(
        f"\nlisteners={n} connected={connected} failed={failed} silent={silent} "
        f"disconnected by the end={down}"
    )
    print(f"  setup: {setup_wall:.1f} s wall, server CPU {setup_cpu:.1f} s")
    print(
        f"  window {wall:.1f} s: server CPU {cpu:.2f} s = {cpu / wall * 100:.0f} % of a core, "
        f"{cpu / wall / max(1, connected) * 1e6:.1f} us CPU per listener-second, "
        f"{cpu / max(1, received) * 1e6:.2f} us per packet sent "
        f"(user {user / max(1, received) * 1e6:.2f}, system {system / max(1, received) * 1e6:.2f})"
    )
    print(
        f"  packets: received {received}, loss by sequence gaps {loss * 100:.2f} %, "
        f"short of the nominal rate {short * 100:.2f} %"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listeners", default="500", help="comma-separated sizes")
    p.add_argument("--seconds", type=float, default=10.0, help="measurement window")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--workers", type=int, default=2, help="load generator processes")
    p.add_argument("--frame-ms", type=int, choices=[20, 40, 60], default=20)
    ns = p.parse_args()
    sizes = [int(x) for x in ns.listeners.split(",")]
    print(f"open files limit raised to {raise_fd_limit()}")
    tmp = Path(tempfile.mkdtemp(prefix="townhall-fanout-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = bench_env(
        tmp,
        base,
        room_listener_capacity=str(max(sizes) + 10),
        room_presence_timeout_seconds="3600",
        room_reconnect_seconds="3600",
        room_moderator_grace_seconds="3600",
        media_bind_addresses='["127.0.0.1"]',
        media_audience_frame_ms=str(ns.frame_ms),
        media_connect_timeout_seconds="300",
    )
    os.environ.update({k: v for k, v in env.items() if k.startswith("TOWNHALL_")})
    db = f"sqlite+aiosqlite:///{tmp / 'townhall.db'}"
    t0 = time.perf_counter()
    names = ["bench_mod", "bench_spare", *(f"listener{i}" for i in range(max(sizes)))]
    tokens = asyncio.run(create_accounts(env, db, names))
    print(f"{len(tokens)} accounts in {time.perf_counter() - t0:.1f} s")
    with serving(env, db, tmp, port) as pid:
        print(f"server pid {pid} on {base}, audience frames of {ns.frame_ms} ms")
        for n in sizes:
            measure(base, pid, env, db, n, ns, tokens)


if __name__ == "__main__":
    main()
