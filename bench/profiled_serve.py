"""``python -m townhall`` with cProfile switched on and off by signals, for the benchmarks.

``benchkit.serving`` starts the server through this script when ``BENCH_PROFILE``
names a directory: SIGUSR1 starts profiling (the asyncio loop runs in the main thread, where
signal handlers run), SIGUSR2 stops it and writes ``<dir>/<pid>.prof``. So a benchmark
profiles only its measured window (``join_storm.py``: from the first join until every
socket holds the final count), not the seeding and socket opening before it. Read the file
with ``python -m pstats``.
"""

from __future__ import annotations

import cProfile
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

# CPU time of the main thread (the event loop), not wall time: waits do not count, and
# the SQLite driver's thread (aiosqlite) is not in the profile (its CPU is apart).
profile = cProfile.Profile(time.thread_time)


def start(_signum: int, _frame: FrameType | None) -> None:
    profile.enable()


def stop(_signum: int, _frame: FrameType | None) -> None:
    profile.disable()
    out = Path(os.environ["BENCH_PROFILE"]) / f"{os.getpid()}.prof"
    profile.dump_stats(out)


if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    from townhall.__main__ import main

    sys.argv[0] = "townhall"
    sys.exit(main())
