"""Opus in and out, as 20 ms frames of 48 kHz mono 16-bit PCM held in NumPy arrays."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
from av.audio.codeccontext import AudioCodecContext

RATE = 48_000
FRAME_MS = 20
FRAME_SAMPLES = RATE * FRAME_MS // 1000
TIME_BASE = Fraction(1, RATE)
SILENCE = np.zeros(FRAME_SAMPLES, dtype=np.int16)


class Encoder:
    """Speech settings: mono, the configured bit rate, VoIP mode, in-band FEC."""

    def __init__(self, bitrate: int, frame_ms: int = FRAME_MS, expected_loss: int = 5) -> None:
        codec = av.CodecContext.create("libopus", "w")
        assert isinstance(codec, AudioCodecContext)
        codec.sample_rate = RATE
        codec.layout = "mono"
        codec.format = "s16"
        codec.bit_rate = bitrate
        codec.time_base = TIME_BASE
        codec.options = {
            "application": "voip",
            "frame_duration": str(frame_ms),
            "fec": "1",
            "packet_loss": str(expected_loss),
        }
        codec.open()
        self._codec = codec
        self.samples = RATE * frame_ms // 1000
        self._pts = 0

    def encode(self, pcm: np.ndarray) -> bytes | None:
        """One Opus packet for ``self.samples`` samples of mono int16 PCM."""
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.time_base = TIME_BASE
        frame.pts = self._pts
        self._pts += len(pcm)
        packets = self._codec.encode(frame)
        return bytes(packets[0]) if packets else None


class Outgoing:
    """One encoded stream that goes quiet in long silences, as Opus DTX does: after 200 ms
    of digital silence it sends one packet per 400 ms, and the RTP timestamp of the next
    packet jumps over what was held back. A listener in a silent room costs next to
    nothing; receivers treat the gap as silence, not loss (the sequence has no hole).

    Done by hand because FFmpeg's libopus encoder, which PyAV drives, has no option to turn
    DTX on (its options are application, frame_duration, packet_loss, fec, vbr,
    mapping_family and apply_phase_inv). libopus's own DTX, called directly, was measured
    and left out (docs/voice.md, "Silence"; ``bench/codec.py``): Debian 12's libopus 1.3.1
    holds back only digital silence too, not quiet noise, and still encodes every silent
    frame (about 200 µs each, where this rule encodes only the keep-alives). A mix is
    digitally silent exactly when nobody is heard, which is what this watches for."""

    def __init__(self, bitrate: int, frame_ms: int = FRAME_MS) -> None:
        self._encoder = Encoder(bitrate, frame_ms)
        self.samples = self._encoder.samples
        self._quiet_after = max(1, 200 // frame_ms)
        self._keepalive = max(1, 400 // frame_ms)
        self._quiet = 0
        self._held = 0

    def packet(self, pcm: np.ndarray) -> tuple[bytes | None, int]:
        """(payload or None when held back, samples the RTP timestamp advances by)."""
        self._quiet = 0 if pcm.any() else self._quiet + 1
        if self._quiet > self._quiet_after and self._quiet % self._keepalive:
            self._held += len(pcm)
            return None, 0
        payload = self._encoder.encode(pcm)
        if payload is None:
            self._held += len(pcm)
            return None, 0
        samples, self._held = len(pcm) + self._held, 0
        return payload, samples


class Decoder:
    def __init__(self) -> None:
        codec = av.CodecContext.create("libopus", "r")
        assert isinstance(codec, AudioCodecContext)
        codec.sample_rate = RATE
        codec.layout = "mono"
        codec.format = "s16"
        self._codec = codec

    def decode(self, payload: bytes) -> np.ndarray | None:
        """Mono int16 PCM for one Opus packet (any frame length), or None if undecodable."""
        try:
            frames = self._codec.decode(av.Packet(payload))
        except av.FFmpegError:
            return None
        if not frames:
            return None
        pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in frames])
        return pcm.astype(np.int16, copy=False)


def level(pcm: np.ndarray) -> float:
    """Loudness from 0 (-60 dBFS or quieter) to 1 (full scale), for "who is speaking"."""
    if not len(pcm):
        return 0.0
    rms = float(np.sqrt(np.mean(np.square(pcm, dtype=np.float64))))
    if rms < 1.0:
        return 0.0
    dbfs = 20.0 * np.log10(rms / 32768.0)
    return float(min(1.0, max(0.0, (dbfs + 60.0) / 60.0)))


def clip(mix: np.ndarray) -> np.ndarray:
    """A sum of int16 voices (held in int32) back into int16 range."""
    return np.clip(mix, -32768, 32767).astype(np.int16)
