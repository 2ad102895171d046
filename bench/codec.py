"""What a room's encoder costs, and what it sends, in silence, in quiet noise and in a tone.

Compares the two ways an outgoing stream can go quiet (docs/voice.md, "Silence"):

- ``hand``: ``codec.Outgoing`` as the mixer uses it: FFmpeg's libopus encoder through PyAV,
  and after 200 ms of digital silence one packet per 400 ms, the frames between not even
  encoded;
- ``dtx``: Debian's libopus called directly (ctypes), with the same settings as
  ``codec.Encoder`` (VoIP, the bit rate, in-band FEC at 5 % expected loss, unconstrained
  VBR) plus libopus's own DTX (``OPUS_SET_DTX``): every frame is encoded, and a packet of
  1 or 2 bytes (the encoder's "nothing to send") is held back.

For each signal (a 440 Hz tone at -10 dBFS, digital silence, white noise at -60 and -80
dBFS, each ``--seconds`` long) it prints the CPU per frame (process time; the smallest of
``--rounds`` rounds, as the machine may be busy) and the packets sent per second.

    python bench/codec.py [--frame-ms 20|60] [--seconds 30] [--rounds 3] [--bitrate 32000]
"""

from __future__ import annotations

import argparse
import ctypes
import time
from collections.abc import Callable

import numpy as np

from townhall.media.codec import RATE, Outgoing

OPUS_APPLICATION_VOIP = 2048
OPUS_SET_BITRATE = 4002
OPUS_SET_VBR = 4006
OPUS_SET_INBAND_FEC = 4012
OPUS_SET_PACKET_LOSS_PERC = 4014
OPUS_SET_DTX = 4016
OPUS_SET_VBR_CONSTRAINT = 4020


class LibopusDtx:
    """libopus with its own DTX, through ctypes; ``packet`` as ``codec.Outgoing``'s."""

    lib: ctypes.CDLL | None = None

    def __init__(self, bitrate: int, frame_ms: int) -> None:
        lib = LibopusDtx.load()
        error = ctypes.c_int()
        self._state = lib.opus_encoder_create(RATE, 1, OPUS_APPLICATION_VOIP, ctypes.byref(error))
        assert error.value == 0 and self._state
        for request, value in (
            (OPUS_SET_BITRATE, bitrate),
            (OPUS_SET_VBR, 1),
            (OPUS_SET_VBR_CONSTRAINT, 0),
            (OPUS_SET_INBAND_FEC, 1),
            (OPUS_SET_PACKET_LOSS_PERC, 5),
            (OPUS_SET_DTX, 1),
        ):
            assert lib.opus_encoder_ctl(self._state, request, ctypes.c_int32(value)) == 0
        self._lib = lib
        self._out = ctypes.create_string_buffer(1500)
        self.samples = RATE * frame_ms // 1000
        self._held = 0

    @staticmethod
    def load() -> ctypes.CDLL:
        if LibopusDtx.lib is None:
            lib = ctypes.CDLL("libopus.so.0")
            lib.opus_encoder_create.restype = ctypes.c_void_p
            lib.opus_encoder_create.argtypes = [
                ctypes.c_int32,
                ctypes.c_int,
                ctypes.c_int,
                ctypes.POINTER(ctypes.c_int),
            ]
            lib.opus_encoder_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int32]
            lib.opus_encode.restype = ctypes.c_int32
            lib.opus_encode.argtypes = [
                ctypes.c_void_p,
                ctypes.c_void_p,
                ctypes.c_int,
                ctypes.c_void_p,
                ctypes.c_int32,
            ]
            lib.opus_encoder_destroy.argtypes = [ctypes.c_void_p]
            lib.opus_get_version_string.restype = ctypes.c_char_p
            LibopusDtx.lib = lib
        return LibopusDtx.lib

    def packet(self, pcm: np.ndarray) -> tuple[bytes | None, int]:
        n = self._lib.opus_encode(self._state, pcm.ctypes.data, len(pcm), self._out, 1500)
        assert n > 0
        if n <= 2:
            self._held += len(pcm)
            return None, 0
        samples, self._held = len(pcm) + self._held, 0
        return self._out.raw[:n], samples

    def close(self) -> None:
        self._lib.opus_encoder_destroy(self._state)


def signals(seconds: float) -> dict[str, np.ndarray]:
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    rng = np.random.default_rng(1)
    full = 32768.0
    return {
        "tone -10 dBFS": (full * 10 ** (-10 / 20) * np.sin(2 * np.pi * 440 * t)).astype(np.int16),
        "digital silence": np.zeros(n, dtype=np.int16),
        "noise -60 dBFS": (rng.standard_normal(n) * full * 10 ** (-60 / 20)).astype(np.int16),
        "noise -80 dBFS": (rng.standard_normal(n) * full * 10 ** (-80 / 20)).astype(np.int16),
    }


def run(make: Callable[[], object], frames: list[np.ndarray]) -> tuple[float, int]:
    """(CPU seconds, packets sent) for one stream over ``frames``."""
    stream = make()
    packet = stream.packet  # type: ignore[attr-defined]
    sent = 0
    start = time.process_time()
    for pcm in frames:
        if packet(pcm)[0] is not None:
            sent += 1
    cpu = time.process_time() - start
    if isinstance(stream, LibopusDtx):
        stream.close()
    return cpu, sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frame-ms", type=int, default=20, choices=(20, 40, 60))
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bitrate", type=int, default=32_000)
    args = parser.parse_args()

    version = LibopusDtx.load().opus_get_version_string().decode()
    print(f"{version}; {args.frame_ms} ms frames, {args.bitrate} bit/s, {args.seconds:g} s each")
    samples = RATE * args.frame_ms // 1000
    streams: dict[str, Callable[[], object]] = {
        "hand": lambda: Outgoing(args.bitrate, args.frame_ms),
        "dtx": lambda: LibopusDtx(args.bitrate, args.frame_ms),
    }
    print(f"{'signal':<16} {'stream':<5} {'us/frame':>9} {'packets/s':>10}")
    for name, pcm in signals(args.seconds).items():
        frames = [
            np.ascontiguousarray(pcm[i : i + samples])
            for i in range(0, len(pcm) - samples + 1, samples)
        ]
        best: dict[str, float] = {}
        sent: dict[str, int] = {}
        for _ in range(args.rounds):
            for stream, make in streams.items():
                cpu, sent[stream] = run(make, frames)
                best[stream] = min(best.get(stream, cpu), cpu)
        for stream in streams:
            per_frame = best[stream] / len(frames) * 1e6
            rate = sent[stream] / (len(frames) * args.frame_ms / 1000)
            print(f"{name:<16} {stream:<5} {per_frame:>9.0f} {rate:>10.1f}")


if __name__ == "__main__":
    main()
