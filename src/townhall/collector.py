"""How a long-running Townhall process collects its garbage.

CPython's collector stops the whole process while it runs, for a time that grows with the
number of objects it looks at. A full collection over an API process holding 5,000 sockets
(a couple of million objects) took 1.2 s, once every time the process grew by a quarter:
exactly while a room fills up, every join and the media clock then waited behind it
(bench/README.md, "A quiet machine, and garbage collection"). Two things keep the pauses short:

- What the process made while starting (modules, classes, the app: ~175,000 objects) is
  moved out of the collector's sight (``gc.freeze``); it lives as long as the process.
- The young generation is collected every 7,000 allocations instead of 700, and the old one
  only after 100 collections of the middle one instead of 10. Objects are still freed by
  reference counting as soon as nothing refers to them; only garbage in reference cycles
  waits longer, and a process still collects all of it, less often.
"""

from __future__ import annotations

import gc

THRESHOLDS = (7000, 10, 100)


def settle() -> None:
    """Call once the process has started, before it serves."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
