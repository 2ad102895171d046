"""Sans-I/O: batches of work for one key, and how long a busy key's batch lingers.

The lingering is decided by events, never by timing: a linger long enough never to pass
during the test, and a batch that fills up or a key that is quiet, each of which must start
a batch at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from tests.waiting import PATIENCE, until
from townhall.domain.rooms.batches import Batches

NEVER = 3600.0
"""A linger no test waits out."""


class Recorder:
    """A batch runner that records each batch and answers every item with itself."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    async def run(self, key: str, items: list[int]) -> Sequence[int | Exception]:
        self.batches.append(list(items))
        return [ValueError(str(i)) if i < 0 else i for i in items]


async def test_a_quiet_keys_first_item_runs_at_once_alone() -> None:
    """Nothing has run for the key lately: its first item does not linger."""
    r = Recorder()
    batches: Batches[int, int] = Batches(r.run, limit=10, linger=NEVER, busy=NEVER)
    assert await asyncio.wait_for(batches.submit("room", 1), PATIENCE) == 1
    assert r.batches == [[1]]


async def test_a_busy_keys_items_linger_until_the_batch_is_full() -> None:
    """Right after a batch, the items that come wait for others and go in together as soon
    as they fill a batch; each gets its own answer, an item's error only its own."""
    r = Recorder()
    batches: Batches[int, int] = Batches(r.run, limit=4, linger=NEVER, busy=NEVER)
    assert await batches.submit("room", 1) == 1
    later = [asyncio.ensure_future(batches.submit("room", i)) for i in (2, -3, 4)]
    await until(lambda: batches.waiting("room") == 3, "three items to wait")
    assert r.batches == [[1]]  # lingering: the batch is not full
    assert not any(f.done() for f in later)
    fifth = asyncio.ensure_future(batches.submit("room", 5))
    done = await asyncio.wait_for(asyncio.gather(*later, fifth, return_exceptions=True), PATIENCE)
    assert r.batches == [[1], [2, -3, 4, 5]]
    assert [str(x) if isinstance(x, Exception) else x for x in done] == [2, "-3", 4, 5]


async def test_other_keys_do_not_linger_behind_a_busy_one() -> None:
    """A key lingering does not hold back another key's first item."""
    r = Recorder()
    batches: Batches[int, int] = Batches(r.run, limit=4, linger=NEVER, busy=NEVER)
    await batches.submit("busy", 1)
    waiting = [asyncio.ensure_future(batches.submit("busy", i)) for i in (2, 3)]
    await until(lambda: batches.waiting("busy") == 2, "the busy key's items to wait")
    assert await asyncio.wait_for(batches.submit("quiet", 4), PATIENCE) == 4
    assert r.batches == [[1], [4]]
    await asyncio.wait_for(
        asyncio.gather(*waiting, batches.submit("busy", 5), batches.submit("busy", 6)), PATIENCE
    )
    assert r.batches == [[1], [4], [2, 3, 5, 6]]


async def test_items_one_after_the_other_never_wait() -> None:
    """Each item submitted after the previous one's answer (people joining one by one)
    does not overlap another: none lingers, however busy the key."""
    r = Recorder()
    batches: Batches[int, int] = Batches(r.run, limit=4, linger=NEVER, busy=NEVER)
    for i in range(1, 6):
        assert await asyncio.wait_for(batches.submit("room", i), PATIENCE) == i
    assert r.batches == [[1], [2], [3], [4], [5]]


async def test_after_a_batch_of_several_a_lone_item_lingers() -> None:
    """Once items overlapped, the next one waits for others even while it is alone."""
    r = Recorder()
    batches: Batches[int, int] = Batches(r.run, limit=3, linger=NEVER, busy=NEVER)
    await batches.submit("room", 1)
    await asyncio.wait_for(
        asyncio.gather(*(batches.submit("room", i) for i in (2, 3, 4))), PATIENCE
    )
    assert r.batches == [[1], [2, 3, 4]]
    alone = asyncio.ensure_future(batches.submit("room", 5))
    for _ in range(5):  # turns of the loop in which a batch that does not linger would run
        await asyncio.sleep(0)
    assert r.batches == [[1], [2, 3, 4]] and not alone.done()
    rest = [batches.submit("room", i) for i in (6, 7)]
    assert await asyncio.wait_for(asyncio.gather(alone, *rest), PATIENCE) == [5, 6, 7]
    assert r.batches == [[1], [2, 3, 4], [5, 6, 7]]


async def test_a_lingering_batch_runs_once_its_linger_is_over() -> None:
    """A short linger ends by itself: the batch runs with what came meanwhile."""
    r = Recorder()
    batches: Batches[int, int] = Batches(r.run, limit=100, linger=0.01, busy=NEVER)
    await batches.submit("room", 1)
    got = await asyncio.wait_for(
        asyncio.gather(batches.submit("room", 2), batches.submit("room", 3)), PATIENCE
    )
    assert got == [2, 3]
    assert r.batches == [[1], [2, 3]]


async def test_without_a_linger_each_batch_takes_what_queued_meanwhile() -> None:
    """linger 0: a batch starts as soon as the previous one is done."""
    r = Recorder()
    batches: Batches[int, int] = Batches(r.run, limit=100)
    await batches.submit("room", 1)
    assert await asyncio.wait_for(batches.submit("room", 2), PATIENCE) == 2
    assert r.batches == [[1], [2]]
