"""Waiting in tests: on state or events, never on the clock alone, and on child processes
whose output is shown when they fail.

A test waits for something that must happen; how long it takes depends on the machine. So
a wait polls a condition (or awaits an event) and gives up only after ``PATIENCE``, a
deadline no passing test comes near even on a loaded machine: reaching it means the test
has failed. A child process that exits while a test waits for it fails the test at once,
with its output, instead of leaving the test to time out in the dark.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import websockets.asyncio.client

PATIENCE = 60.0
"""Seconds before a wait for something that must happen calls it a failure."""

POLL = 0.05
"""Seconds between two looks at a condition that has no event to await."""

T = TypeVar("T")


class Child:
    """A child process whose output (stdout and stderr together) is kept as it comes."""

    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name = name
        self.process = process
        self._output = bytearray()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, name: str, *args: str, env: dict[str, str] | None = None) -> Child:
        process = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        return cls(name, process)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while chunk := await self.process.stdout.read(65536):
            self._output += chunk

    @property
    def output(self) -> str:
        return self._output.decode(errors="replace")

    def check(self) -> None:
        """Fail now, with the child's output, if it has exited."""
        code = self.process.returncode
        if code is not None:
            raise AssertionError(f"{self.name} exited with status {code}:\n{self.output}")

    async def stop(self) -> int:
        """Terminate the child (if still running) and wait for it and its output."""
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), PATIENCE)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        await self._reader
        return self.process.returncode if self.process.returncode is not None else -1


@asynccontextmanager
async def child(name: str, *args: str, env: dict[str, str] | None = None) -> AsyncIterator[Child]:
    """Run a child process for the block; when the block fails, its output is printed (so
    pytest shows it with the failure) and the child is stopped either way."""
    proc = await Child.start(name, *args, env=env)
    try:
        yield proc
    except BaseException:
        await proc.stop()
        print(f"--- output of {name} ---\n{proc.output}", file=sys.stderr)
        raise
    await proc.stop()


async def until(
    condition: Callable[[], T | Awaitable[T]],
    what: str,
    *,
    watch: tuple[Child, ...] = (),
    within: float = PATIENCE,
) -> T:
    """The first true value of ``condition`` (plain or async), looked at every ``POLL``
    seconds; fails with ``what`` after ``within`` seconds, or at once if a watched child
    exits meanwhile."""
    deadline = time.monotonic() + within
    while True:
        for c in watch:
            c.check()
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {within:.0f} s waiting for {what}")
        await asyncio.sleep(POLL)


def until_sync(condition: Callable[[], Any], what: str, *, within: float = PATIENCE) -> Any:
    """``until`` for synchronous tests (Playwright's, processes run with ``subprocess``)."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {within:.0f} s waiting for {what}")
        time.sleep(POLL)


def ws_connect(uri: str, **kwargs: Any) -> Any:
    """``websockets``' ``connect`` with the suite's patience for the opening handshake (its
    own default, 10 s, is within reach of a busy machine)."""
    kwargs.setdefault("open_timeout", PATIENCE)
    return websockets.asyncio.client.connect(uri, **kwargs)
