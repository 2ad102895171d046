"""S11 a bot plays an audio file into a room from the command line; a listener hears it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.api.roomkit import create, join, ok, snap
from tests.api.test_ws import serving, token_of
from tests.media.voicekit import MEDIA_SETTINGS, band_share, connect
from tests.waiting import child, until

pytestmark = pytest.mark.settings(**MEDIA_SETTINGS)


async def test_bot_plays_a_wav_file_when_brought_on_stage(
    app: Any, people: Any, tmp_path: Path
) -> None:
    """The bot joins by itself, accepts the invitation to speak, unmutes, and is heard."""
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
        # Tokens and room ids may begin with "-": the token comes from the environment and
        # "--" ends the options, or the command line would take them for options.
        env = {**os.environ, "TOWNHALL_TOKEN": token_of(bot)}
        command = (sys.executable, "-m", "townhall.client", "--url", url, "--bind", "127.0.0.1")
        async with child("the bot", *command, "play", "--", rid, str(wav), env=env) as player:
            listener = await connect(liz, rid)
            try:

                async def in_audience() -> bool:
                    return any(m["username"] == "bot" for m in (await snap(mod, rid))["audience"])

                await until(in_audience, "the bot to join", watch=(player,))
                await ok(mod, rid, "invite_to_speak", target="bot")

                async def speaking() -> bool:
                    stage = {m["username"]: m for m in (await snap(mod, rid))["stage"]}
                    return "bot" in stage and not stage["bot"]["muted"]

                await until(speaking, "the bot on stage, unmuted", watch=(player,))

                def heard() -> bool:
                    frames = listener.heard.frames
                    recent = listener.heard.pcm(since=frames[-1][0] - 0.8) if frames else None
                    return recent is not None and band_share(recent, 523) > 0.2

                await until(heard, "the listener to hear the bot's 523 Hz", watch=(player,))
            finally:
                await listener.close()
