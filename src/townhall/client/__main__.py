"""``python -m townhall.client``: a room's audio from the command line, for bots and checks.

    python -m townhall.client --url https://townhall.example.org --token=TOKEN \\
        [--bind ADDRESS] play [--loop] -- ROOM music.wav
    python -m townhall.client --url ... --token=TOKEN listen --seconds 30 --out heard.wav -- ROOM

``play`` joins the room and sends the file once it may speak (it accepts a moderator's
invitation to speak and unmutes itself); ``listen`` joins and records what the room hears.
The token is a bearer token (``townhall signin-link`` gives a link to sign a bot in), also
read from ``TOWNHALL_TOKEN``. Tokens and room ids may begin with "-": write ``--token=TOKEN``
and put ``--`` before the room, or they are taken for options.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from townhall.client.errors import TownhallAPIError
from townhall.client.http import Townhall
from townhall.client.voice import PcmSource, RoomAudio
from townhall.vocabulary import STAGE_ROLES


async def play(th: Townhall, room: str, path: str, loop: bool, bind: tuple[str, ...]) -> None:
    await th.join(room)
    source = PcmSource.from_wav(path, loop=loop)
    audio = await RoomAudio.open(th.signalling(room), source=source, bind_addresses=bind)
    print(f"connected to {room}; waiting to be brought on stage", file=sys.stderr)
    try:
        while True:
            me = (await th.room(room)).get("me") or {}
            if me.get("invited_to_speak"):
                await th.command(room, "accept_speak")
                continue
            if me.get("role") in STAGE_ROLES:
                if me.get("muted"):
                    await th.command(room, "unmute")
                    print("on stage, unmuted: playing", file=sys.stderr)
            elif me.get("role") is None:
                print("no longer in the room", file=sys.stderr)
                return
            if not loop and source.pcm.size and source.position >= len(source.pcm):
                return
            await asyncio.sleep(1.0)
    finally:
        await audio.close()


async def listen(th: Townhall, room: str, seconds: float, out: str, bind: tuple[str, ...]) -> None:
    await th.join(room)
    audio = await RoomAudio.open(th.signalling(room), bind_addresses=bind)
    try:
        await asyncio.sleep(seconds)
    finally:
        await audio.close()
    audio.heard.write_wav(out)
    print(f"{len(audio.heard.frames) * 20 / 1000:.1f} s of audio written to {out}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m townhall.client", description=__doc__)
    p.add_argument("--url", default=os.environ.get("TOWNHALL_URL", "http://127.0.0.1:8000"))
    p.add_argument("--token", default=os.environ.get("TOWNHALL_TOKEN"), required=False)
    p.add_argument(
        "--bind", action="append", default=[], help="local address for audio (repeatable)"
    )
    sub = p.add_subparsers(dest="command", required=True)
    play_p = sub.add_parser("play", help="speak a WAV file into a room")
    play_p.add_argument("room")
    play_p.add_argument("file")
    play_p.add_argument("--loop", action="store_true")
    listen_p = sub.add_parser("listen", help="record what a room hears")
    listen_p.add_argument("room")
    listen_p.add_argument("--seconds", type=float, default=10.0)
    listen_p.add_argument("--out", default="heard.wav")
    ns = p.parse_args(argv)
    if not ns.token:
        p.error("a bearer token is needed (--token or TOWNHALL_TOKEN)")

    async def run() -> None:
        async with Townhall(ns.url, ns.token) as th:
            if ns.command == "play":
                await play(th, ns.room, ns.file, ns.loop, tuple(ns.bind))
            else:
                await listen(th, ns.room, ns.seconds, ns.out, tuple(ns.bind))

    try:
        asyncio.run(run())
    except TownhallAPIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
