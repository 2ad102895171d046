"""One room, one speaker, N listeners as real WebRTC receivers: what a listener costs.

Starts one ``townhall serve`` (SQLite, embedded media on 127.0.0.1), creates a moderator
and N listener accounts and puts the listeners in the room directly in the database (so
the figures are about audio, not about N joins). The moderator speaks a tone through the
Python client (a real aiortc sender). The load generator runs in G processes; each
listener is a real aiortc RTCPeerConnection (ICE, DTLS, SRTP keys). Once all are up, their
sockets are read by a small native loop (``rxkit.py``: epoll and recvmmsg, one thread per
process) that counts RTP by the sequence number in its clear header: no decryption, no
Python per packet; STUN and DTLS still go to aiortc, so consent checks keep connections
alive. After a warm-up it measures for a window: the CPU of the server and of every
process under it (from /proc), of the load generator, packets received, loss by sequence
gaps per listener, and how far short of the nominal packet rate the count falls.

    python bench/fanout.py --listeners 500,1000,2000 --seconds 10 [--frame-ms 20|40|60]
        [--generators 2] [--python] [--profile] [--backend embedded,janus] [--janus-instances 2]
        [--silent] [--workers 0|N]

``--workers N`` runs the embedded media server in N media worker processes (docs/voice.md,
"Media workers"): the speaker's room is mixed on one, and listeners are spread over all of
them (each a fan-out shard fed by the mixing worker over loopback UDP). The server's CPU is
then reported per process (the API process and each worker). ``--workers 0`` (the
default here, as in the figures before workers) keeps the media in the API process.

``--backend janus`` runs the same room on Janus instead (docs/voice.md, "Janus"): each
instance on a network namespace of its own (``tests/media/januskit.py``), the listeners and
the speaker bound to this side of that network. Several backends, comma-separated, run one
after the other in one run, for figures side by side. For Janus the server's CPU is
reported apart for the Townhall process and for the Janus processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
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
    free_port,
    raise_fd_limit,
    seed_accounts,
    serving,
)
from rxkit import Counting

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.media.januskit

from tests.media import januskit
from townhall.client.voice import RoomAudio, ToneSource
from townhall.media import ice, shim
from townhall.storage import rooms as room_store
from townhall.storage import users as user_store

LOOPBACK = ice.Binding(addresses=("127.0.0.1",))
BIND = LOOPBACK
"""Where the load generator's listeners and the speaker bind (set per backend, before the
generator processes fork)."""


async def light_listener(base: str, room: str, token: str) -> RTCPeerConnection:
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="recvonly")
    ice.bind(pc, BIND)
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
    return pc


def count_natively(pc: RTCPeerConnection, counting: Counting) -> None:
    """Take a connected listener's sockets from asyncio: the native loop reads them (before
    audio arrives, aiortc would decrypt, queue and decode every packet)."""
    for connection in shim.ice_connections(pc):
        for protocol in shim.protocols(connection):
            transport = protocol.transport
            transport.pause_reading()
            counting.add(transport.get_extra_info("socket").fileno(), protocol.datagram_received)


def worker(base: str, room: str, tokens: list[str], pipe: Pipe) -> None:
    raise_fd_limit()

    async def run() -> None:
        gate = asyncio.Semaphore(24)
        made: list[RTCPeerConnection] = []
        failed = 0
        counting = Counting(asyncio.get_running_loop(), len(tokens))

        async def one(token: str) -> None:
            nonlocal failed
            async with gate:
                try:
                    pc = await light_listener(base, room, token)
                    count_natively(pc, counting)
                    made.append(pc)
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
                counting.reset()
                pipe.send("started")
            elif command == "stop":
                received, expected, silent = counting.totals()
                down = sum(1 for pc in made if pc.connectionState != "connected")
                pipe.send(("counts", received, expected, silent, down))
            else:
                break
        counting.close()
        await asyncio.gather(*(pc.close() for pc in made), return_exceptions=True)

    asyncio.run(run())


async def seat_listeners(env: dict[str, str], database_url: str, n: int) -> str:
    """The moderator's room, with listener0..listener<n-1> in its audience."""
    container = bench_container(env, database_url)
    try:
        async with container.db.transaction() as tx:
            mod = await user_store.by_username(tx, "bench_mod")
        assert mod is not None
        room = (await container.rooms.create(mod, f"Fan-out {n}", "open", "everyone")).id
        now = container.clock.now()
        async with container.db.transaction() as tx:
            users = await user_store.by_usernames(tx, [f"listener{i}" for i in range(n)])
            for u in users:
                await room_store.add_member(tx, room, u.id, "listener", now)
        return str(room)
    finally:
        await container.close()


async def speak(base: str, room: str, token: str, heard: bool) -> RoomAudio:
    """The moderator's tone; left muted (``heard`` false), the room is silent."""
    if heard:
        async with httpx.AsyncClient(base_url=base) as http:
            auth = {"Authorization": f"Bearer {token}"}
            r = await http.post(
                f"/api/rooms/{room}/commands", json={"command": "unmute"}, headers=auth
            )
            r.raise_for_status()
    from townhall.client.http import Townhall

    th = Townhall(base, token)
    return await RoomAudio.open(
        th.signalling(room), source=ToneSource(440), bind_addresses=BIND.addresses, wait=30
    )


def family(pid: int) -> list[int]:
    """The server and every process under it (media workers, when it has them)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def splits(pids: list[int]) -> dict[int, tuple[float, float]]:
    out = {}
    for p in pids:
        try:
            out[p] = cpu_split(p)
        except OSError:
            continue
    return out


def profile(pid: int, seconds: float, path: Path) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("  (no py-spy: no profile)")
        return None
    cmd = [spy, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "200", "-f", "raw"]
    cmd += ["--nonblocking", "-o", str(path)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def print_profile(path: Path, top: int = 12) -> None:
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        stack, count = line.rsplit(" ", 1)
        total += int(count)
        frame = stack.split(";")[-1]
        own[frame] = own.get(frame, 0) + int(count)
    print(f"  profile of the server ({total} samples, {path}), by own time:")
    for frame, count in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        print(f"    {count / max(1, total) * 100:5.1f} %  {frame}")


def measure(
    base: str,
    pid: int,
    env: dict[str, str],
    db: str,
    n: int,
    ns: Any,
    tokens: list[str],
    janus: list[int] = [],  # noqa: B006 (never changed)
):
    room = asyncio.run(seat_listeners(env, db, n))
    generators = max(1, min(ns.generators, n // 50 or 1))
    shares = [tokens[2 + i : 2 + n : generators] for i in range(generators)]
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
    speaker = loop.run_until_complete(speak(base, room, tokens[0], not ns.silent))

    async def hold(seconds: float) -> None:
        await asyncio.sleep(seconds)

    loop.run_until_complete(hold(ns.warmup))
    for p in pipes:
        p.send("start")
    for p in pipes:
        p.recv()
    servers = family(pid) + janus
    server0, gen0 = splits(servers), splits([proc.pid for proc in procs])
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    profile_path = Path(env["BENCH_DATA_DIR"]) / f"profile-{n}.txt"
    spy = profile(pid, ns.seconds, profile_path) if ns.profile else None
    loop.run_until_complete(hold(ns.seconds))
    for p in pipes:
        p.send("stop")
    counts = [p.recv() for p in pipes]
    wall = time.perf_counter() - t0
    server1, gen1 = splits(servers), splits([proc.pid for proc in procs])
    load1 = os.getloadavg()
    loop.run_until_complete(speaker.close())
    loop.close()
    for p in pipes:
        p.send("quit")
    for proc in procs:
        proc.join(timeout=60)

    def spent(before: dict[int, tuple[float, float]], after: dict[int, tuple[float, float]]):
        per = {
            p: (after[p][0] - before[p][0], after[p][1] - before[p][1])
            for p in after
            if p in before
        }
        return per, sum(u for u, _ in per.values()), sum(s for _, s in per.values())

    per_server, user, system = spent(server0, server1)
    _, gen_user, gen_system = spent(gen0, gen1)
    cpu = user + system
    received = sum(c[1] for c in counts)
    expected = sum(c[2] for c in counts)
    silent = sum(c[3] for c in counts)
    down = sum(c[4] for c in counts)
    nominal = connected * wall * 1000 / ns.frame_ms
    loss = 1 - received / expected if expected else 1.0
    short = 1 - received / nominal if nominal else 1.0
    us = 1e6 / max(1, received)
    print(
        f"\nlisteners={n} connected={connected} failed={failed} silent={silent} "
        f"disconnected by the end={down}"
    )
    print(f"  setup: {setup_wall:.1f} s wall, server CPU {setup_cpu:.1f} s")
    print(
        f"  window {wall:.1f} s, load average {load0[0]:.2f} at its start, "
        f"{load1[0]:.2f} at its end"
    )
    print(
        f"  server CPU {cpu:.2f} s = {cpu / wall * 100:.0f} % of a core: "
        f"{cpu * us:.2f} us per listener-packet (user {user * us:.2f}, system {system * us:.2f}), "
        f"{cpu / wall / max(1, connected) * 1e6:.1f} us per listener-second"
    )
    if janus:
        mine = [p for p in per_server if p not in janus]
        for name, pids in (("townhall", mine), ("janus", janus)):
            part = sum(per_server[p][0] + per_server[p][1] for p in pids if p in per_server)
            print(f"    {name}: {part / wall * 100:.0f} % of a core, {part * us:.2f} us")
    elif len(per_server) > 1:
        for p, (u, s_) in sorted(per_server.items()):
            role = "API process" if p == pid else "media worker"
            print(
                f"    {role} {p}: {(u + s_) / wall * 100:.0f} % of a core, {(u + s_) * us:.2f} us"
            )
    gen = gen_user + gen_system
    print(
        f"  load generator CPU ({len(procs)} processes) {gen:.2f} s = {gen / wall * 100:.0f} % "
        f"of a core: {gen * us:.2f} us per packet (user {gen_user * us:.2f}, "
        f"system {gen_system * us:.2f})"
    )
    print(
        f"  packets: received {received}, loss by sequence gaps {loss * 100:.2f} %, "
        f"short of the nominal rate {short * 100:.2f} %"
    )
    if spy is not None:
        spy.wait()
        print_profile(profile_path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listeners", default="500", help="comma-separated sizes")
    p.add_argument("--seconds", type=float, default=10.0, help="measurement window")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--generators", type=int, default=2, help="load generator processes")
    p.add_argument("--frame-ms", type=int, choices=[20, 40, 60], default=20)
    p.add_argument("--python", action="store_true", help="the server's Python fan-out loop")
    p.add_argument("--profile", action="store_true", help="py-spy the server in the window")
    p.add_argument("--backend", default="embedded", help="embedded, janus, or both (a,b)")
    p.add_argument("--janus-instances", type=int, default=1, help="Janus instances (hosts)")
    p.add_argument("--silent", action="store_true", help="the speaker muted: a silent room")
    p.add_argument(
        "--workers", type=int, default=0, help="media worker processes (0: media in the server)"
    )
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
        media_native_fanout="false" if ns.python else "true",
        media_sessions_per_room=str(max(sizes) + 10),
        media_workers=str(ns.workers),
    )
    os.environ.update({k: v for k, v in env.items() if k.startswith("TOWNHALL_")})
    db = f"sqlite+aiosqlite:///{tmp / 'townhall.db'}"
    t0 = time.perf_counter()
    names = ["bench_mod", "bench_spare", *(f"listener{i}" for i in range(max(sizes)))]
    tokens = asyncio.run(seed_accounts(env, db, names))
    print(f"{len(tokens)} accounts in {time.perf_counter() - t0:.1f} s")
    for backend in ns.backend.split(","):
        if backend == "janus":
            run_on_janus(env, db, tmp, sizes, ns, tokens)
            continue
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with serving({**env, "TOWNHALL_PUBLIC_URL": base}, db, tmp, port) as pid:
            loop_name = "Python" if ns.python else "native (if it builds)"
            where = f"{ns.workers} media workers" if ns.workers else "media in the server"
            print(
                f"\n=== embedded: server pid {pid} on {base}, {where}, audience frames of "
                f"{ns.frame_ms} ms, {loop_name} loop"
            )
            for n in sizes:
                measure(base, pid, env, db, n, ns, tokens)


def run_on_janus(
    env: dict[str, str], db: str, tmp: Path, sizes: list[int], ns: Any, tokens: list[str]
) -> None:
    """The same measurements with Janus instances as the media plane."""
    global BIND
    why = januskit.unavailable()
    if why is not None:
        print(f"\n=== janus: not run: {why}")
        return
    with januskit.Cluster(ns.janus_instances, show=False) as cluster:
        settings = cluster.settings()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        janus_env = {
            **env,
            "TOWNHALL_PUBLIC_URL": base,
            "TOWNHALL_MEDIA_BACKEND": "janus",
            "TOWNHALL_MEDIA_JANUS_INSTANCES": json.dumps(settings["media_janus_instances"]),
            "TOWNHALL_MEDIA_JANUS_API_SECRET": settings["media_janus_api_secret"],
            "TOWNHALL_MEDIA_JANUS_ADMIN_KEY": settings["media_janus_admin_key"],
            "TOWNHALL_MEDIA_JANUS_FORWARD_ADDRESS": settings["media_janus_forward_address"],
            "TOWNHALL_MEDIA_JANUS_INSTANCE_CONNECTIONS": str(max(sizes) // ns.janus_instances + 1),
        }
        BIND = ice.Binding(addresses=(cluster.lan_address,))
        pids = [j.process.pid for j in cluster.instances if j.process is not None]
        try:
            with serving(janus_env, db, tmp, port, log_name="server-janus.log") as pid:
                print(
                    f"\n=== janus: {len(pids)} instance(s) (pids {pids}), server pid {pid} "
                    f"on {base}, 20 ms packets"
                )
                for n in sizes:
                    measure(base, pid, env, db, n, ns, tokens, pids)
        finally:
            BIND = LOOPBACK


if __name__ == "__main__":
    main()
