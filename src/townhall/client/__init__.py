"""Python client for Townhall's HTTP API and live WebSocket, for scripts, bots and load tools."""

from townhall.client.errors import LiveClosed, LiveConnectionLost, TownhallAPIError
from townhall.client.http import Townhall
from townhall.client.live import Live
from townhall.client.streams import RoomStreams

__all__ = [
    "Live",
    "LiveClosed",
    "LiveConnectionLost",
    "RoomStreams",
    "Townhall",
    "TownhallAPIError",
]
