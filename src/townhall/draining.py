"""``townhall serve``'s uvicorn server, which lets its clients go before it stops.

On SIGTERM (or SIGINT) uvicorn stops listening, asks every connection to finish and waits
for the requests under way, then runs the app's shutdown. Between the first step and the
second this server lets the app drain (``Container.drain``): WebSocket clients are told to
reconnect elsewhere (close code 1012, docs/protocol.md) once the commands they already sent
are answered, so no command is cut off and none runs on a process that is going away.
uvicorn's own shutdown would close the sockets at once, with the same code, but without
waiting for their commands. docs/operations.md, "Restarting", says how to use it.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable

import uvicorn

logger = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, drain: Callable[[], Awaitable[None]]) -> None:
        super().__init__(config)
        self._drain = drain

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # No new connection reaches this process from now on: a balancer in front of it
        # sends them to another one (and the clients told to go connect there).
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        try:
            await self._drain()
        except Exception:
            logger.exception("draining the sockets failed; closing them")
        await super().shutdown(sockets)
