"""A media worker dies: how long until every listener hears the room again.

Starts one ``townhall serve`` (SQLite) with ``--workers`` media workers, a moderator
speaking a 440 Hz tone through the Python client and L listeners (real aiortc receivers
that decode, each following the room's live stream and acting on ``audio.reconnect`` as
the apps do). Each trial kills the room's home worker with SIGKILL (or, with ``--shard``,
a worker that holds only listeners) and times, per listener, how long until its audio
holds the tone again (FFT over the last 0.4 s). ``serve`` starts a new worker after each
kill; the next trial waits for it. Prints every listener's time, p50/p95/max over all
trials, and the load average.

    python bench/failover.py --listeners 20 --trials 10 [--workers 2] [--shard]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchkit import bench_env, free_port, pct, seed_accounts, serving

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.media.voicekit

from tests.media.voicekit import band_share, recent
from townhall.client import Townhall
from townhall.client.voice import RoomAudio, ToneSource

LOOPBACK = ("127.0.0.1",)
HEARD = 0.2


def worker_pids(log: Path) -> dict[str, int]:
    """Worker address -> pid, from the workers' start lines in the server's log."""
    found = re.findall(r"media worker \S+:(\d+) listening on (\S+?)[\"\s]", log.read_text())
    return {address: int(pid) for pid, address in found}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def until(check: Any, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("gave up waiting")
        await asyncio.sleep(0.02)


async def follow(client: Townhall, room: str, audio: RoomAudio, subscribed: asyncio.Event) -> None:
    async with client.live() as live:
        await live.subscribe(room)
        subscribed.set()
        async for message in live.events():
            audio.handle(message)


async def run(ns: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="townhall-failover-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = bench_env(
        tmp,
        base,
        media_bind_addresses='["127.0.0.1"]',
        media_workers=str(ns.workers),
        log_format="text",
    )
    env["TOWNHALL_LOG_LEVEL"] = "INFO"  # the workers' start lines name their pids
    db = f"sqlite+aiosqlite:///{tmp / 'townhall.db'}"
    names = ["bench_mod", *(f"listener{i}" for i in range(ns.listeners))]
    tokens = await seed_accounts(env, db, names)
    log = tmp / "server.log"
    times: list[float] = []
    with serving(env, db, tmp, port):
        mod = Townhall(base, tokens[0])
        listeners = [Townhall(base, t) for t in tokens[1:]]
        room = await mod.create_room("Failover", "open", "everyone")
        rid = room["id"]
        if room["me"]["muted"]:
            await mod.command(rid, "unmute")
        for client in listeners:
            await client.join(rid)
        speaker = await RoomAudio.open(
            mod.signalling(rid), source=ToneSource(440), bind_addresses=LOOPBACK, wait=60
        )
        audios = [
            await RoomAudio.open(c.signalling(rid), bind_addresses=LOOPBACK, wait=60)
            for c in listeners
        ]
        subscribed = [asyncio.Event() for _ in range(len(audios) + 1)]
        followers = [
            asyncio.create_task(follow(c, rid, a, e))
            for c, a, e in zip([mod, *listeners], [speaker, *audios], subscribed, strict=True)
        ]
        try:
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in subscribed)), 120)
            for trial in range(ns.trials):
                await until(lambda: all(band_share(recent(a, 0.4), 440) > HEARD for a in audios))
                with contextlib.closing(sqlite3.connect(tmp / "townhall.db")) as conn:
                    row = conn.execute(
                        "SELECT worker FROM media_rooms WHERE room_id = ?", (rid,)
                    ).fetchone()
                home = row[0]
                pids = {a: p for a, p in worker_pids(log).items() if alive(p)}
                victim = next((a for a in pids if a != home), home) if ns.shard else home
                load = os.getloadavg()[0]
                before = [a.reconnects for a in audios]
                os.kill(pids[victim], signal.SIGKILL)
                killed = time.monotonic()
                pending = set(range(len(audios)))
                took: list[float] = []
                # Heard again: the tone in what arrived after its client began a new
                # connection (packets of the old one may still be read after the kill).
                anew: dict[int, float] = {}
                while pending:
                    for i in list(pending):
                        if i not in anew and audios[i].reconnects > before[i]:
                            anew[i] = time.monotonic()
                        if i in anew and band_share(recent(audios[i], 0.4, anew[i]), 440) > HEARD:
                            took.append(time.monotonic() - killed)
                            pending.discard(i)
                    if time.monotonic() - killed > 60:
                        print(f"  trial {trial}: {len(pending)} listeners never heard again")
                        break
                    await asyncio.sleep(0.01)
                times.extend(took)
                print(
                    f"trial {trial}: killed {'a shard' if victim != home else 'the home'} "
                    f"{victim}; every listener again after {max(took):.2f} s "
                    f"(median {pct(took, 50):.2f} s), load average {load:.2f}"
                )
                # serve starts a new worker in place of the one killed.
                await until(
                    lambda: len([p for p in worker_pids(log).values() if alive(p)]) >= ns.workers
                )
        finally:
            for task in followers:
                task.cancel()
            for audio in [speaker, *audios]:
                await audio.close()
            for client in [mod, *listeners]:
                await client.aclose()
    if times:
        print(
            f"\n{ns.listeners} listeners x {ns.trials} trials: time to hear again "
            f"p50 {pct(times, 50):.2f} s, p95 {pct(times, 95):.2f} s, max {max(times):.2f} s"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listeners", type=int, default=20)
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--shard", action="store_true", help="kill a worker holding only listeners")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
