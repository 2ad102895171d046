"""Mouth-to-ear latency from a speaker to a listener through the embedded media server.

Starts one ``townhall serve`` (SQLite, media on 127.0.0.1). The moderator speaks through
the Python client: silence with a 10 ms click of 1 kHz every ``--interval`` seconds; the
moment each click's 20 ms frame is handed to the WebRTC sender is noted (the "mouth": a
microphone delivers a frame when it is complete). A listener in the same process hears
through the Python client, which decodes each packet as it arrives; the first loud frame
after silence is the click's arrival (the "ear", before any playout buffer). Both use the
same monotonic clock. With ``--load N``, N light listeners (as in fanout.py) also receive
the room's audio from worker processes.

    python bench/latency.py --clicks 100 [--load 1000] [--frame-ms 20|40|60]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from benchkit import bench_env, create_accounts, free_port, pct, raise_fd_limit, serving
from fanout import seat_listeners, worker

from townhall.client.http import Townhall
from townhall.client.voice import PcmSource, RoomAudio
from townhall.media.codec import FRAME_SAMPLES, RATE

LOOPBACK = ("127.0.0.1",)
THRESHOLD = 0.05 * 32767


def click_track(interval: float) -> np.ndarray:
    """One period: a 10 ms 1 kHz click at the start of a frame, then silence."""
    period = np.zeros(int(interval * RATE) // FRAME_SAMPLES * FRAME_SAMPLES, dtype=np.int16)
    t = np.arange(RATE // 100) / RATE
    period[: len(t)] = (np.sin(2 * np.pi * 1000 * t) * 0.6 * 32767).astype(np.int16)
    return period


async def run(base: str, room: str, tokens: list[str], ns: argparse.Namespace) -> None:
    speaker_th, listener_th = Townhall(base, tokens[0]), Townhall(base, tokens[1])
    await speaker_th.command(room, "unmute")
    await listener_th.join(room)
    track = click_track(ns.interval)
    source = PcmSource(track, loop=True)
    sent: list[float] = []
    period = len(track)

    def on_frame(pts: int, at: float) -> None:
        if pts % period == 0:
            sent.append(at)

    source.on_frame = on_frame
    listener = await RoomAudio.open(listener_th.signalling(room), bind_addresses=LOOPBACK)
    speaker = await RoomAudio.open(
        speaker_th.signalling(room), source=source, bind_addresses=LOOPBACK
    )
    await asyncio.sleep(1.0)
    first = len(sent)
    await asyncio.sleep(ns.clicks * ns.interval)
    last = time.monotonic()
    await asyncio.sleep(0.5)  # the last clicks are still on their way
    await speaker.close()
    await listener.close()
    await speaker_th.aclose()
    await listener_th.aclose()

    arrivals: list[float] = []
    quiet = True
    for at, pcm in listener.heard.frames:
        loud = float(np.max(np.abs(pcm.astype(np.int32)))) > THRESHOLD
        if loud and quiet:
            arrivals.append(at)
        quiet = not loud
    delays = []
    clicks = [mouth for mouth in sent[first:] if mouth < last]
    for mouth in clicks:
        ear = next((a for a in arrivals if mouth <= a < mouth + ns.interval / 2), None)
        if ear is not None:
            delays.append((ear - mouth) * 1000)
    missed = len(clicks) - len(delays)
    if delays:
        print(
            f"clicks {len(delays)} (missed {missed}): mouth-to-ear p50 {pct(delays, 50):.1f} ms  "
            f"p95 {pct(delays, 95):.1f} ms  max {max(delays):.1f} ms"
        )
    else:
        print(f"no click arrived ({missed} sent)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clicks", type=int, default=60)
    p.add_argument("--interval", type=float, default=0.5, help="seconds between clicks")
    p.add_argument("--load", type=int, default=0, help="extra light listeners")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--frame-ms", type=int, choices=[20, 40, 60], default=20)
    ns = p.parse_args()
    raise_fd_limit()
    tmp = Path(tempfile.mkdtemp(prefix="townhall-latency-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = bench_env(
        tmp,
        base,
        room_listener_capacity=str(ns.load + 10),
        room_presence_timeout_seconds="3600",
        room_reconnect_seconds="3600",
        media_bind_addresses='["127.0.0.1"]',
        media_audience_frame_ms=str(ns.frame_ms),
        media_connect_timeout_seconds="300",
    )
    os.environ.update({k: v for k, v in env.items() if k.startswith("TOWNHALL_")})
    db = f"sqlite+aiosqlite:///{tmp / 'townhall.db'}"
    names = ["bench_mod", "bench_ear", *(f"listener{i}" for i in range(ns.load))]
    tokens = asyncio.run(create_accounts(env, db, names))
    with serving(env, db, tmp, port) as pid:
        print(f"server pid {pid} on {base}, audience frames of {ns.frame_ms} ms, load {ns.load}")
        room = asyncio.run(seat_listeners(env, db, ns.load))
        procs, pipes = [], []
        if ns.load:
            workers = max(1, min(ns.workers, ns.load // 50 or 1))
            for i in range(workers):
                ours, theirs = mp.Pipe()
                share = tokens[2 + i : 2 + ns.load : workers]
                proc = mp.Process(target=worker, args=(base, room, share, theirs), daemon=True)
                proc.start()
                procs.append(proc)
                pipes.append(ours)
            ready = [pipe.recv() for pipe in pipes]
            print(f"load: {sum(r[1] for r in ready)} listeners connected")
        t0 = time.perf_counter()
        asyncio.run(run(base, room, tokens, ns))
        print(f"measured in {time.perf_counter() - t0:.0f} s")
        for pipe in pipes:
            pipe.send("quit")
        for proc in procs:
            proc.join(timeout=60)


if __name__ == "__main__":
    main()
