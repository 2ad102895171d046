"""Janus on several hosts: rooms and one room's audience spread over instances, and an
instance that dies is noticed, its people moved to the live ones."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.api.roomkit import create, join, ok
from tests.media.januskit import Cluster
from tests.media.voicekit import band_share, connect, recent
from tests.waiting import PATIENCE, until
from townhall.client.voice import RoomAudio, ToneSource

pytestmark = pytest.mark.parametrize("janus_hosts", [2], indirect=True)

HEARD = 0.2


def host_of(audio: RoomAudio) -> str:
    """The address of the Janus instance ``audio`` is connected to, from its answer."""
    answer = audio._pc.remoteDescription.sdp  # type: ignore[union-attr]
    return next(line.split()[4] for line in answer.splitlines() if line.startswith("a=candidate:"))


def hears(audio: RoomAudio, frequency: float, since: float = 0.0) -> bool:
    return band_share(recent(audio, 0.4, since), frequency) > HEARD


async def room_with_speaker(people: Any, name: str, frequency: float) -> tuple[str, RoomAudio]:
    speaker = await people.member(name)
    rid = (await create(speaker, title=name))["id"]
    await ok(speaker, rid, "unmute")
    return rid, await connect(speaker, rid, ToneSource(frequency))


async def listener(people: Any, name: str, rid: str) -> RoomAudio:
    client = await people.member(name)
    await join(client, rid)
    return await connect(client, rid)


async def test_rooms_spread_over_instances(people: Any, janus_hosts: Cluster) -> None:
    """Two rooms' mixes go to two instances; each room hears only itself."""
    one, ann = await room_with_speaker(people, "ann", 440)
    two, bob = await room_with_speaker(people, "bob", 660)
    liz, max_ = await listener(people, "liz", one), await listener(people, "max", two)
    try:
        assert {host_of(ann), host_of(bob)} == {j.host.address for j in janus_hosts.instances}
        await until(lambda: hears(liz, 440) and hears(max_, 660), "each room to hear its speaker")
        assert band_share(recent(liz), 660) < 0.01 and band_share(recent(max_), 440) < 0.01
    finally:
        for audio in (ann, bob, liz, max_):
            await audio.close()


@pytest.mark.settings(media_janus_instance_connections=2)
async def test_one_rooms_audience_spreads_over_instances(people: Any, janus_hosts: Cluster) -> None:
    """Past an instance's share, listeners go to the other one's mountpoint: all hear the mix."""
    rid, ann = await room_with_speaker(people, "ann", 440)
    audience = [await listener(people, f"lis{i}", rid) for i in range(4)]
    try:
        assert {host_of(a) for a in audience} == {j.host.address for j in janus_hosts.instances}
        await until(lambda: all(hears(a, 440) for a in audience), "every listener to hear ann")
    finally:
        for audio in (ann, *audience):
            await audio.close()


async def test_a_host_cut_off_is_noticed_and_its_listeners_move(
    people: Any, container: Any, janus_hosts: Cluster
) -> None:
    """The listeners' instance drops off the network: it is noticed (its pings go
    unanswered), its connections end, and a listener's new connection hears the room from
    the instance that is left; the room's mix, elsewhere, never stopped."""
    rid, ann = await room_with_speaker(people, "ann", 440)
    liz = await listener(people, "liz", rid)
    try:
        home, other = host_of(ann), host_of(liz)
        assert home != other  # the least loaded instance took the audience
        await until(lambda: hears(liz, 440), "liz to hear ann")
        lost = next(j for j in janus_hosts.instances if j.host.address == other)
        lost.host.cut_off()
        await until(
            lambda: len(container.media.connections()) == 1, "liz's connection to be dropped"
        )
        await liz._pc.close()  # type: ignore[union-attr]  # as her client does when it notices
        await liz.wait_connected(PATIENCE)
        moved = time.monotonic()
        assert host_of(liz) == home
        await until(lambda: hears(liz, 440, since=moved), "liz to hear ann again")
    finally:
        for audio in (ann, liz):
            await audio.close()


async def test_the_mix_moves_when_its_instance_dies(
    people: Any, container: Any, janus_hosts: Cluster
) -> None:
    """The instance with the room's mix is killed: the room gets a new mix on the live
    instance, feeding the mountpoint there, so a listener who never reconnected hears the
    speaker again once the speaker's client makes its new connection."""
    rid, ann = await room_with_speaker(people, "ann", 440)
    liz = await listener(people, "liz", rid)
    try:
        home, other = host_of(ann), host_of(liz)
        assert home != other
        await until(lambda: hears(liz, 440), "liz to hear ann")
        next(j for j in janus_hosts.instances if j.host.address == home).kill()
        await until(
            lambda: len(container.media.connections()) == 1, "ann's connection to be dropped"
        )
        await ann._pc.close()  # type: ignore[union-attr]  # as her client does when it notices
        await ann.wait_connected(PATIENCE)
        moved = time.monotonic()
        assert host_of(ann) == other
        await until(lambda: hears(liz, 440, since=moved), "liz to hear ann through the new mix")
    finally:
        for audio in (ann, liz):
            await audio.close()
