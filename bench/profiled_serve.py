"""``python -m townhall`` with cProfile switched on and off by signals, for the benchmarks.

``benchkit.serving`` starts the server through this script when ``BENCH_PROFILE``
names a directory: SIGUSR1 starts profiling (the asyncio loop runs in the main thread, where
signal handlers run), SIGUSR2 stops it and writes ``<dir>/<pid>.prof``. So a benchmark
profiles only its measured window (``join_storm.py``: from the first join until every
socket holds the final count), not the seeding and socket opening before it. Read the file
with ``python -m pstats``.

The SQL statements run in the window are timed too (from the cursor's execute to its end,
waits for the database included: on SQLite that is the driver's thread, which cProfile does
not see) and written, the dearest first, to ``<dir>/<pid>.sql``; the garbage collector's
pauses by generation to ``<dir>/<pid>.gc``.
"""

from __future__ import annotations

import cProfile
import gc
import os
import signal
import sys
import time
from collections import defaultdict
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

# CPU time of the main thread (the event loop), not wall time: waits do not count, and
# the SQLite driver's thread (aiosqlite) is not in the profile (its CPU is apart).
profile = cProfile.Profile(time.thread_time)
statements: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
timing = False


@event.listens_for(Engine, "before_cursor_execute")
def _began(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
    conn.info["bench_began"] = time.perf_counter()


@event.listens_for(Engine, "after_cursor_execute")
def _ended(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
    began = conn.info.pop("bench_began", None)
    if timing and began is not None:
        spent = statements[" ".join(statement.split())[:300]]
        spent[0] += 1
        spent[1] += time.perf_counter() - began


collections: list[tuple[int, float]] = []
_collecting: list[float] = []


def _gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _collecting[:] = [time.perf_counter()]
    elif timing and _collecting:
        collections.append((info["generation"], time.perf_counter() - _collecting[0]))


gc.callbacks.append(_gc)


def start(_signum: int, _frame: FrameType | None) -> None:
    global timing
    statements.clear()
    collections.clear()
    timing = True
    profile.enable()


def stop(_signum: int, _frame: FrameType | None) -> None:
    global timing
    timing = False
    profile.disable()
    out = Path(os.environ["BENCH_PROFILE"]) / f"{os.getpid()}.prof"
    profile.dump_stats(out)
    dearest = sorted(statements.items(), key=lambda kv: -kv[1][1])
    lines = [f"{total * 1000:10.1f} ms {count:8d} x  {sql}" for sql, (count, total) in dearest]
    out.with_suffix(".sql").write_text("\n".join(lines) + "\n")
    pauses = [
        f"generation {g}: {len(ms)} collections, {sum(ms) * 1000:.0f} ms in all, "
        f"the longest {max(ms) * 1000:.0f} ms"
        for g in (0, 1, 2)
        if (ms := [t for gen, t in collections if gen == g])
    ]
    out.with_suffix(".gc").write_text("\n".join(pauses) + "\n")


if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    from townhall.__main__ import main

    sys.argv[0] = "townhall"
    sys.exit(main())
