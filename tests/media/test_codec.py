"""``codec.Outgoing`` on plain data: what a stream sends in silence, in quiet noise and in
speech, and that its RTP timestamps cover every sample (docs/voice.md, "Silence")."""

from __future__ import annotations

import numpy as np
import pytest

from tests.media.voicekit import band_share
from townhall.media.codec import RATE, Decoder, Outgoing

PRESENT = 0.5


def frames(pcm: np.ndarray, samples: int) -> list[np.ndarray]:
    return [pcm[i : i + samples] for i in range(0, len(pcm) - samples + 1, samples)]


def tone(seconds: float, frequency: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * 32767 * np.sin(2 * np.pi * frequency * t)).astype(np.int16)


def send(stream: Outgoing, pcm: np.ndarray) -> list[tuple[bytes | None, int]]:
    return [stream.packet(frame) for frame in frames(pcm, stream.samples)]


@pytest.mark.parametrize("frame_ms", [20, 60])
def test_a_tone_comes_through(frame_ms: int) -> None:
    stream, decoder = Outgoing(32_000, frame_ms), Decoder()
    sent = send(stream, tone(2.0))
    assert all(payload is not None for payload, _ in sent)
    decoded = [decoder.decode(payload) for payload, _ in sent if payload is not None]
    pcm = np.concatenate([d for d in decoded if d is not None])
    assert len(pcm) == len(sent) * stream.samples
    assert band_share(pcm[RATE // 2 :], 440) > PRESENT


@pytest.mark.parametrize("frame_ms", [20, 60])
def test_digital_silence_sends_a_keep_alive_per_400_ms(frame_ms: int) -> None:
    """After 200 ms, one packet per 400 ms (per the nearest whole number of frames)."""
    stream = Outgoing(32_000, frame_ms)
    sent = send(stream, np.zeros(10 * RATE, dtype=np.int16))
    payloads = [p for p, _ in sent if p is not None]
    keepalive_ms = max(1, 400 // frame_ms) * frame_ms
    first = max(1, 200 // frame_ms) + 1
    assert len(payloads) <= first + 10_000 // keepalive_ms + 1
    assert len(payloads) >= 10_000 // keepalive_ms
    # No stretch of more than one keep-alive interval goes without a packet.
    gaps = np.diff([i for i, (p, _) in enumerate(sent) if p is not None])
    assert gaps.max() * frame_ms <= keepalive_ms


def test_quiet_noise_is_sent_in_full() -> None:
    """The rule watches for digital silence only: a speaker's -60 dBFS background is sent
    as every frame (libopus's own DTX does the same on Debian 12: docs/voice.md)."""
    stream = Outgoing(32_000)
    noise = np.random.default_rng(1).standard_normal(2 * RATE) * 32768 * 10 ** (-60 / 20)
    sent = send(stream, noise.astype(np.int16))
    assert all(payload is not None for payload, _ in sent)


@pytest.mark.parametrize("frame_ms", [20, 60])
def test_speech_after_silence_comes_back_at_once_and_time_is_continuous(
    frame_ms: int,
) -> None:
    """The first frame of speech is sent, and its timestamp step covers the held-back
    silence: the steps of all packets add up to every sample, with no packet lost."""
    stream, decoder = Outgoing(32_000, frame_ms), Decoder()
    silence = np.zeros(3 * RATE, dtype=np.int16)
    speech = tone(1.0, 660)
    quiet, loud = send(stream, silence), send(stream, speech)
    assert all(payload is not None for payload, _ in loud)
    assert any(payload is None for payload, _ in quiet)
    # The first packet of speech advances the timestamp over what was held back before it.
    last_sent = max(i for i, (p, _) in enumerate(quiet) if p is not None)
    held_before = (len(quiet) - 1 - last_sent) * stream.samples
    assert loud[0][1] == held_before + stream.samples
    steps = [samples for payload, samples in quiet + loud if payload is not None]
    assert sum(steps) == (len(quiet) + len(loud)) * stream.samples
    assert all(samples == 0 for payload, samples in quiet + loud if payload is None)
    pcm = np.concatenate(
        [d for d in (decoder.decode(p) for p, _ in loud if p is not None) if d is not None]
    )
    assert band_share(pcm[RATE // 4 :], 660) > PRESENT
