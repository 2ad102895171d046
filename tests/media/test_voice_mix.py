"""S5 real audio through the embedded media server: mixing, mix-minus and enforcement."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from tests.api.roomkit import bring_on_stage, create, join, ok
from tests.media.voicekit import (
    MEDIA_SETTINGS,
    band_share,
    connect,
    frames_after,
    loudness,
    recent,
)
from tests.waiting import until
from townhall.client.voice import ToneSource
from townhall.media.codec import FRAME_SAMPLES

pytestmark = [pytest.mark.settings(**MEDIA_SETTINGS), pytest.mark.usefixtures("media_plane")]

PRESENT = 0.2
ABSENT = 0.01


async def stage_of_two(people: Any) -> tuple[Any, ...]:
    """Moderator mod (silent), speakers ann (440 Hz) and bob (660 Hz), listener liz."""
    mod, ann, bob, liz = [await people.member(n) for n in ("mod", "ann", "bob", "liz")]
    rid = (await create(mod, title="Tones"))["id"]
    for client, name in ((ann, "ann"), (bob, "bob")):
        await join(client, rid)
        await bring_on_stage(mod, client, rid, name)
        await ok(client, rid, "unmute")
    await join(liz, rid)
    return rid, mod, ann, bob, liz


@pytest.mark.parametrize(
    "fanout",
    [
        "native",
        pytest.param(
            "python", marks=pytest.mark.settings(**MEDIA_SETTINGS, media_native_fanout=False)
        ),
    ],
)
async def test_listener_hears_both_speakers_hear_only_each_other(people: Any, fanout: str) -> None:
    """Through either fan-out loop (the Python one when the native one is switched off)."""
    rid, _, ann, bob, liz = await stage_of_two(people)
    a = await connect(ann, rid, ToneSource(440))
    b = await connect(bob, rid, ToneSource(660))
    listener = await connect(liz, rid)
    try:
        start = time.monotonic()
        # 1.5 s of audio each; the first half second fills buffers on both sides.
        heard, by_ann, by_bob = [
            np.concatenate((await frames_after(audio, start, 75))[25:])
            for audio in (listener, a, b)
        ]
        assert band_share(heard, 440) > PRESENT and band_share(heard, 660) > PRESENT
        assert band_share(by_ann, 660) > PRESENT and band_share(by_ann, 440) < ABSENT
        assert band_share(by_bob, 440) > PRESENT and band_share(by_bob, 660) < ABSENT
    finally:
        for audio in (a, b, listener):
            await audio.close()


async def test_moderator_mute_silences_speaker_within_100ms_of_audio(people: Any) -> None:
    rid, mod, ann, bob, liz = await stage_of_two(people)
    a = await connect(ann, rid, ToneSource(440))
    b = await connect(bob, rid, ToneSource(660))
    listener = await connect(liz, rid)
    try:
        await until(lambda: band_share(recent(listener, 0.4), 440) > PRESENT, "liz to hear ann")
        await ok(mod, rid, "mute_speaker", target="ann")
        muted_at = time.monotonic()
        # Audio time, not wall time: 5 frames of 20 ms after the mute is applied, 440 Hz is gone.
        after = await frames_after(listener, muted_at, 40)
        late = np.concatenate(after[5:])
        assert band_share(late, 440) < ABSENT
        assert band_share(late, 660) > PRESENT
    finally:
        for audio in (a, b, listener):
            await audio.close()


async def test_listener_and_muted_speaker_uploads_are_never_heard(
    people: Any, media_plane: Any
) -> None:
    rid, mod, ann, bob, liz = await stage_of_two(people)
    await ok(bob, rid, "mute")
    a = await connect(ann, rid, ToneSource(440))
    b = await connect(bob, rid, ToneSource(660))  # on stage but muted
    sneaky = await connect(liz, rid, ToneSource(880))  # a listener sending anyway
    listener = await connect(mod, rid)
    try:
        start = time.monotonic()
        for audio in (b, sneaky, listener):  # 1.2 s of audio heard by each
            await frames_after(audio, start, 60)
        end = time.monotonic()
        for audio in (a, b, sneaky, listener):
            pcm = audio.heard.pcm(since=start + 0.4, until=end)
            assert band_share(pcm, 880) < ABSENT and band_share(pcm, 660) < ABSENT
        # Everyone but ann hears ann all along; ann hears a silent room.
        for audio in (b, sneaky, listener):
            assert len(audio.heard.pcm(since=start + 0.4, until=end)) > 20 * FRAME_SAMPLES
        quiet = a.heard.pcm(since=start + 0.4, until=end)
        assert loudness(quiet) < 30
        if media_plane is None:  # the embedded mixer sends silence sparsely; AudioBridge does not
            assert len(quiet) < 10 * FRAME_SAMPLES
        assert band_share(listener.heard.pcm(since=start + 0.4), 440) > PRESENT
    finally:
        for audio in (a, b, sneaky, listener):
            await audio.close()
