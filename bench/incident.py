"""What the incident buffer costs a live room: memory held and CPU per second of audio.

    python bench/incident.py [--seconds 900] [--bitrate 32000] [--frame-ms 20]

Feeds one room's buffer the audience packets of continuous speech-like audio (a tone with
noise, encoded as the mixer encodes it: the encoding is the mixer's cost, not the
buffer's, so it is done first and not counted), then prints the memory held for audio,
the CPU time the buffer spent per second of audio (chunking and AES-GCM), the cost of
sealing it to disk, and of exporting it as Ogg Opus.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from townhall.media.codec import RATE, Encoder
from townhall.media.incident import RoomBuffer
from townhall.media.sealed import SealedStore


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def packets(seconds: int, bitrate: int, frame_ms: int) -> list[bytes]:
    encoder = Encoder(bitrate, frame_ms)
    rng = np.random.default_rng(1)
    step = encoder.samples
    out = []
    for i in range(seconds * RATE // step):
        t = (np.arange(step) + i * step) / RATE
        pcm = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(step)
        payload = encoder.encode((pcm * 32767).astype(np.int16))
        out.append(payload or b"")
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=900)
    parser.add_argument("--bitrate", type=int, default=32000)
    parser.add_argument("--frame-ms", type=int, default=20)
    args = parser.parse_args()
    step = RATE * args.frame_ms // 1000
    print(f"encoding {args.seconds} s of audio at {args.bitrate} bit/s ...")
    encoded = packets(args.seconds, args.bitrate, args.frame_ms)
    payload_bytes = sum(len(p) for p in encoded)

    buffer = RoomBuffer("bench", 900, 2, args.frame_ms, 200, Clock().now)
    levels_every = max(1, 200 // args.frame_ms)
    start = time.process_time()
    for i, payload in enumerate(encoded):
        buffer.audio(payload, step)
        if i % levels_every == 0:
            buffer.levels({"speaker": 0.7})
    cpu = time.process_time() - start
    print(f"payload bytes: {payload_bytes} ({payload_bytes / args.seconds:.0f} B/s)")
    print(f"held: {buffer.bytes_held} bytes for {buffer.seconds_held:.0f} s of audio")
    print(
        f"buffer CPU: {cpu * 1e3:.1f} ms for {args.seconds} s of audio "
        f"= {cpu / args.seconds * 1e6:.1f} us per second of audio "
        f"({cpu / args.seconds * 100:.4f} % of one core)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        store = SealedStore(Path(tmp) / "incidents", b"s" * 32, Clock(), 30)
        assert buffer.key is not None
        store.begin("bench", buffer.key)
        start = time.perf_counter()
        for index, sealed in buffer.seal("bench", lambda i, s: store.write("bench", i, s)):
            store.write("bench", index, sealed)
        await store.flushed()
        print(f"seal (write {buffer.seconds_held:.0f} s): {time.perf_counter() - start:.3f} s")
        buffer.close()
        await store.flushed()
        start, cpu_start = time.perf_counter(), time.process_time()
        found = await store.export("bench")
        assert found is not None
        print(
            f"export to Ogg: {time.perf_counter() - start:.3f} s wall, "
            f"{time.process_time() - cpu_start:.3f} s CPU, {len(found.ogg)} bytes"
        )
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
