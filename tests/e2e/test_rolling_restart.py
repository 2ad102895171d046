"""A rolling restart of the two API processes under a live room: each one, sent SIGTERM,
tells its sockets to reconnect elsewhere after answering what they sent, and exits; its
clients resume on the other process without missing an event, and nobody loses their role.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_processes import Deployment, Server, two_processes
from tests.waiting import PATIENCE, until
from townhall.client import Live, Townhall

pytestmark = pytest.mark.e2e

Message = dict[str, Any]

DRAINED = "shutting down: 2 sockets told to reconnect"


@pytest.fixture(scope="module")
def rolling(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    # INFO for the drain's own line; no access lines around it. No media workers: this is
    # about events and roles (tests/e2e/test_media_failover.py moves audio).
    with two_processes(
        tmp_path_factory.mktemp("rolling"),
        TOWNHALL_LOG_LEVEL="INFO",
        TOWNHALL_ACCESS_LOG="false",
        TOWNHALL_MEDIA_WORKERS="0",
    ) as deployment:
        yield deployment


async def stop(server: Server) -> int:
    """SIGTERM, as systemd stops a unit; the process's exit status."""
    server.process.send_signal(signal.SIGTERM)
    return await asyncio.to_thread(server.process.wait, PATIENCE)


class Heard:
    """Everything a live connection hands over, in order, gathered as it comes."""

    def __init__(self, live: Live) -> None:
        self.messages: list[Message] = []
        self._task = asyncio.create_task(self._gather(live))

    async def _gather(self, live: Live) -> None:
        async for message in live.events():
            self.messages.append(message)

    def room_events(self, rid: str) -> list[Message]:
        return [m for m in self.messages if m.get("stream") == f"room:{rid}" and "seq" in m]

    def titles(self, rid: str) -> list[str]:
        return [e["data"]["title"] for e in self.room_events(rid) if e["name"] == "room.updated"]

    def of_type(self, kind: str) -> list[Message]:
        return [m for m in self.messages if m.get("type") == kind]


class Renames:
    """The moderator renames the room over their socket, one command after the other, until
    stopped: one is always under way when a process is told to stop. Every command must be
    answered once: a restart cuts none off (one the draining process did not take is sent
    again on the next socket, and must not have run)."""

    def __init__(self, live: Live, rid: str) -> None:
        self.answered: list[str] = []
        self.trace: list[Any] = []
        self._live = live
        self._rid = rid
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while not self._stop.is_set():
            title = f"take {len(self.answered) + 1}"
            before = self._live.resent
            await self._live.request("room.command", room=self._rid, command="rename", title=title)
            self.answered.append(title)
            self.trace.append((title, before, self._live.resent, self._live.url))

    async def more(self, count: int) -> None:
        """Wait until ``count`` more renames have been answered."""
        target = len(self.answered) + count
        await until(lambda: len(self.answered) >= target or self._task.done(), "more renames")
        if self._task.done():
            await self._task  # raises why it stopped

    async def stop(self) -> None:
        self._stop.set()
        await self._task


async def test_a_rolling_restart_loses_no_event_and_no_role(rolling: Deployment) -> None:
    tokens = rolling.tokens
    urls = [s.url for s in rolling.servers]
    with rolling.explained():
        async with (
            Townhall(urls[0], tokens["alice"]) as alice_http,
            Townhall(urls[0], tokens["bob"]) as bob_http,
        ):
            rid = (await alice_http.create_room("Rolling", "open", "everyone"))["id"]
            await bob_http.join(rid)
        async with (
            Live(urls, tokens["alice"], reconnect_for=PATIENCE) as alice,
            Live(urls, tokens["bob"], reconnect_for=PATIENCE) as bob,
        ):
            alice_heard, bob_heard = Heard(alice), Heard(bob)
            start = (await alice.subscribe(rid))["snapshot"]["seq"]
            bob_start = (await bob.subscribe(rid))["snapshot"]
            assert bob_start["me"]["role"] == "listener"
            renames = Renames(alice, rid)
            await renames.more(3)

            # Restart the first process, then the second, while the moderator goes on.
            for i in (0, 1):
                going, staying = rolling.servers[i], rolling.servers[1 - i]
                assert alice.url == bob.url == going.url
                reconnects = (alice.reconnects, bob.reconnects)
                logged = len(going.log.read_text(errors="replace"))
                status = await stop(going)
                # uvicorn ends by the signal it was stopped with, once shut down cleanly.
                assert status in (0, -signal.SIGTERM), status
                assert DRAINED in going.log.read_text(errors="replace")[logged:]
                await until(
                    lambda r=reconnects: (
                        alice.reconnects > r[0]
                        and bob.reconnects > r[1]
                        and alice.connected
                        and bob.connected
                    ),
                    "both clients on the other process",
                )
                assert alice.url == bob.url == staying.url
                await renames.more(3)
                rolling.start_again(i)
                await renames.more(3)
            await renames.stop()

            final = await alice.request("room.command", room=rid, command="rename", title="last")
            assert final == {"ok": True}
            for heard in (alice_heard, bob_heard):
                await until(lambda h=heard: "last" in h.titles(rid), "the last rename heard")

            # Every event numbered, none missed, none twice, though each client moved twice.
            async with Townhall(rolling.servers[0].url, tokens["alice"]) as check:
                state = await check.room(rid)
            seqs = [e["seq"] for e in alice_heard.room_events(rid)]
            assert seqs == list(range(start + 1, state["seq"] + 1))
            bob_seqs = [e["seq"] for e in bob_heard.room_events(rid)]
            assert bob_seqs == sorted(set(bob_seqs))
            for heard, first in ((alice_heard, start), (bob_heard, bob_start["seq"])):
                assert heard.titles(rid) == [*renames.answered, "last"], renames.trace
                # Moved to the other process each time (a busy machine may add a reconnection
                # of its own: a client that reads too slowly is let go with 4008).
                moves = [m["url"] for m in heard.of_type("reconnected")]
                assert moves[0] == urls[1] and moves[-1] == urls[0], moves
                # Resumed from the log each time: the only snapshot is the first one.
                assert [m["snapshot"]["seq"] for m in heard.of_type("snapshot")] == [first]
                assert heard.of_type("resume_failed") == []

            # Nobody lost their role, on either process.
            for server in rolling.servers:
                async with (
                    Townhall(server.url, tokens["alice"]) as a,
                    Townhall(server.url, tokens["bob"]) as b,
                ):
                    assert (await a.room(rid))["me"]["role"] == "moderator"
                    assert (await b.room(rid))["me"]["role"] == "listener"
