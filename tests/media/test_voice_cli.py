"""S11 a bot plays an audio file into a room from the command line; a listener hears it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.api.roomkit import create, join, ok, snap
from tests.api.test_ws import serving, token_of
from tests.media.voicekit import MEDIA_SETTINGS, band_share, connect

pytestmark = pytest.mark.settings(**MEDIA_SETTINGS)


async def test_bot_plays_a_wav_file_when_brought_on_stage(
    app: Any, people: Any, tmp_path: Path
) -> None:
    wav = tmp_path / "tone.wav"
    sox = await asyncio.create_subprocess_exec(
        "sox", "-n", "-r", "16000", "-c", "1", str(wav), "synth", "30", "sine", "523"
    )  # fmt: skip
    assert await sox.wait() == 0
    mod, bot, liz = [await people.member(n) for n in ("mod", "bot", "liz")]
    rid = (await create(mod, title="Bots welcome"))["id"]
    await join(liz, rid)
    async with serving(app) as ws_base:
        url = ws_base.replace("ws://", "http://")
        player = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "townhall.client", "--url", url, "--token", token_of(bot),
            "--bind", "127.0.0.1", "play", rid, str(wav),
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        listener = await connect(liz, rid)
        try:
            for _ in range(100):  # the bot joins by itself
                if any(m["username"] == "bot" for m in (await snap(mod, rid))["audience"]):
                    break
                await asyncio.sleep(0.1)
            await ok(mod, rid, "invite_to_speak", target="bot")
            for _ in range(100):  # it accepts and unmutes by itself
                stage = {m["username"]: m for m in (await snap(mod, rid))["stage"]}
                if "bot" in stage and not stage["bot"]["muted"]:
                    break
                await asyncio.sleep(0.1)
            else:
                pytest.fail("the bot did not come on stage unmuted")
            await asyncio.sleep(1.5)
            heard = listener.heard.pcm(since=listener.heard.frames[-1][0] - 0.8)
            assert band_share(heard, 523) > 0.2
        finally:
            player.terminate()
            await player.wait()
            await listener.close()
