"""The outbox: what follows a change is written with it and delivered after the request, by
this process's worker or another's, at least once and said once."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.roomkit import create, follow, ok
from tests.api.test_notifications import inbox, names
from townhall.app import build_container
from townhall.config import Settings
from townhall.domain.happenings import Happening


@pytest.mark.settings(outbox_worker=False)
async def test_a_room_starts_without_waiting_for_its_fan_out(
    people: Any, container: Any, settings: Settings
) -> None:
    """With no worker in this process, creating a room answers before anyone is told; the
    worker of another process on the same database then tells the followers."""
    host, ann = await people.member("host"), await people.member("ann")
    await follow(ann, "host")
    room = await create(host, title="Told later")
    assert await names(ann) == []
    assert await names(host) == []
    assert await container.outbox.pending() > 0

    other = build_container(settings.model_copy(update={"outbox_worker": True}), people.clock)
    await other.start()
    try:
        await other.outbox.settled()
    finally:
        await other.close()
    [item] = (await inbox(ann))["items"]
    assert item["name"] == "room.started"
    assert item["data"]["room"] == room["id"]
    assert await names(host) == ["user.followed"]
    assert await container.outbox.pending() == 0


async def test_a_failed_delivery_is_tried_again_and_said_once(people: Any, container: Any) -> None:
    """A listener that fails leaves the happening for another attempt after a back-off; the
    second attempt tells the listeners again, and the notification is still stored once."""
    heard: list[Happening] = []

    async def flaky(h: Happening) -> None:
        if h.kind == "room.pinged":
            heard.append(h)
            if len(heard) == 1:
                raise RuntimeError("down for a moment")

    container.happenings.listen(flaky)
    host, ann = await people.member("host"), await people.member("ann")
    await follow(ann, "host")
    room = (await create(host, kind="closed"))["id"]
    await ok(host, room, "ping", target="ann")
    assert len(heard) == 1
    assert await names(ann) == ["room.pinged"]
    assert await container.outbox.pending() == 1  # waiting for its back-off

    people.clock.advance(seconds=1)
    container.outbox.poke()
    await container.outbox.settled()
    assert len(heard) == 2
    assert heard[1] == heard[0]  # the same happening, with the key it was recorded with
    assert heard[0].key
    assert await names(ann) == ["room.pinged"]
    assert await container.outbox.pending() == 0
