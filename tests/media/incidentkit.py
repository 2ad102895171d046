"""Helpers for incident audio tests: a room of tones, its end, and decoding its export."""

from __future__ import annotations

import io
from typing import Any

import av
import numpy as np

from tests.api.roomkit import bring_on_stage, create, join, ok
from tests.media.voicekit import band_share, connect, recent
from tests.waiting import until
from townhall.client.voice import RoomAudio, ToneSource
from townhall.media.codec import RATE

PRESENT = 0.2
ABSENT = 0.01


async def tones(people: Any) -> tuple[str, dict[str, Any], list[RoomAudio]]:
    """ann on stage at 440 Hz, bob on stage muted at 660 Hz, liz a listener sending 880 Hz
    anyway, mod on stage and silent; returns once mod hears ann (the room, each person's
    client by name, their audio connections)."""
    mod, ann, bob, liz = [await people.member(n) for n in ("mod", "ann", "bob", "liz")]
    rid = (await create(mod, title="Tones"))["id"]
    for client, name in ((ann, "ann"), (bob, "bob")):
        await join(client, rid)
        await bring_on_stage(mod, client, rid, name)
    await ok(ann, rid, "unmute")
    await join(liz, rid)
    audios = [
        await connect(ann, rid, ToneSource(440)),
        await connect(bob, rid, ToneSource(660)),
        await connect(liz, rid, ToneSource(880)),
        await connect(mod, rid),
    ]
    await until(lambda: band_share(recent(audios[3], 0.4), 440) > PRESENT, "mod to hear ann")
    return rid, {"mod": mod, "ann": ann, "bob": bob, "liz": liz}, audios


async def end(container: Any, mod: Any, rid: str, audios: list[RoomAudio]) -> None:
    """The moderator ends the room; returns once its audio here has closed and every write
    is on disk."""
    await ok(mod, rid, "end")
    await until(lambda: rid not in container.media.buffers(), "the room's audio to close")
    for audio in audios:
        await audio.close()
    await container.media.incidents.flushed()


def decode(ogg: bytes) -> np.ndarray:
    with av.open(io.BytesIO(ogg)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name in ("opus", "libopus")
        assert stream.rate == RATE
        frames = [f.to_ndarray().reshape(-1) for f in container.decode(stream)]
    return np.concatenate(frames).astype(np.float64)
