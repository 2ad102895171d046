"""One UDP port per address for every audio connection in the process.

aioice opens a socket per connection. A server is better off with one: a firewall opens
one port, ten thousand listeners hold no ten thousand file descriptors, and the fan-out
sends a whole batch of listeners through one socket with one ``sendmmsg``
(``fanout.c``). This is how SFUs do it (a "UDP mux"); ICE works unchanged, because each
connection's checks name it.

Each connection still gets its own aioice ``StunProtocol``, over a ``Lane``: a transport
that sends through the shared socket. Arriving datagrams are routed by where they come
from; a STUN binding request is routed by the local half of its USERNAME (the connection's
ufrag), and teaches the port that address. A lane also claims the addresses it sends to,
so the answers to the connection's own checks find it. Nothing here awaits: routing is a
dictionary look-up per datagram.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from typing import Any

from aioice.ice import StunProtocol

logger = logging.getLogger(__name__)

Address = tuple[str, int]

BINDING_REQUEST = b"\x00\x01"
USERNAME = 0x0006
RECEIVE_BUFFER = 4 << 20
READS_PER_TURN = 512
"""Datagrams read at most each time the socket is readable, so a flood cannot hold the
event loop (the rest wait in the socket's buffer for the next turn)."""


def request_ufrag(data: bytes) -> str | None:
    """The local ufrag a STUN binding request is for (USERNAME ``"<ours>:<theirs>"``), or
    None if it is not one or has no USERNAME."""
    if len(data) < 20 or data[:2] != BINDING_REQUEST:
        return None
    end = min(len(data), 20 + struct.unpack_from("!H", data, 2)[0])
    offset = 20
    while offset + 4 <= end:
        kind, length = struct.unpack_from("!HH", data, offset)
        if kind == USERNAME:
            value = data[offset + 4 : offset + 4 + length]
            return value.split(b":", 1)[0].decode("ascii", "replace")
        offset += 4 + (length + 3) // 4 * 4
    return None


class SharedPort:
    """The one socket on one address, and which connection each peer address is.

    It reads the socket itself rather than through an asyncio transport, which takes one
    datagram per turn of the event loop: with every connection behind one socket that
    falls behind as soon as a mix tick is long, and consent checks are lost."""

    def __init__(self, sock: socket.socket) -> None:
        self.socket = sock
        self.address: Address = sock.getsockname()[:2]
        self._by_address: dict[Address, Lane] = {}
        self._by_ufrag: dict[str, Lane] = {}
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._readable)
        self._closed = False

    def _readable(self) -> None:
        recvfrom = self.socket.recvfrom
        for _ in range(READS_PER_TURN):
            try:
                data, addr = recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # an ICMP error for an earlier send, on Linux
                logger.debug("media: the shared port reported %s", exc)
                continue
            try:
                self.datagram_received(data, addr)
            except Exception:
                logger.exception("media: a datagram from %s could not be handled", addr)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        address = (addr[0], addr[1])
        lane = self._by_address.get(address)
        if data[:2] == BINDING_REQUEST:
            ufrag = request_ufrag(data)
            named = self._by_ufrag.get(ufrag) if ufrag is not None else None
            if named is not None and named is not lane:
                # A new peer address for a connection (or a reused one): checks decide.
                if lane is not None:
                    lane.addresses.discard(address)
                self._by_address[address] = lane = named
                named.addresses.add(address)
        if lane is None:
            return
        protocol = lane.protocol
        if data and data[0] > 3:
            # Not STUN (DTLS, SRTP, SRTCP): skip aioice's attempt to parse it as STUN.
            protocol.receiver.data_received(data, protocol.local_candidate.component)
        else:
            protocol.datagram_received(data, address)

    def sendto(self, data: bytes, address: Address) -> None:
        if self._closed:
            return
        try:
            self.socket.sendto(data, address)
        except (BlockingIOError, InterruptedError):
            pass  # a full buffer: STUN and DTLS retransmit
        except OSError as exc:
            logger.debug("media: sending to %s failed: %s", address, exc)

    def open_lane(self, protocol: StunProtocol, ufrag: str) -> Lane:
        lane = Lane(self, protocol, ufrag)
        self._by_ufrag[ufrag] = lane
        protocol.connection_made(lane)
        return lane

    def claim(self, lane: Lane, address: Address) -> None:
        if address not in self._by_address:
            self._by_address[address] = lane
            lane.addresses.add(address)

    def release(self, lane: Lane) -> None:
        if self._by_ufrag.get(lane.ufrag) is lane:
            del self._by_ufrag[lane.ufrag]
        for address in lane.addresses:
            if self._by_address.get(address) is lane:
                del self._by_address[address]
        lane.addresses.clear()

    @property
    def lanes(self) -> int:
        return len(self._by_ufrag)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._loop.remove_reader(self.socket.fileno())
            self.socket.close()


class Lane(asyncio.DatagramTransport):
    """One connection's view of the shared port: its STUN protocol's transport."""

    def __init__(self, port: SharedPort, protocol: StunProtocol, ufrag: str) -> None:
        super().__init__()
        self.port = port
        self.protocol = protocol
        self.ufrag = ufrag
        self.addresses: set[Address] = set()
        self._closed = False

    @property
    def socket(self) -> socket.socket:
        """The shared socket, for the fan-out to send through directly."""
        return self.port.socket

    def sendto(self, data: Any, addr: Any = None) -> None:
        if self._closed:
            return
        address = (addr[0], addr[1])
        self.port.claim(self, address)
        self.port.sendto(data, address)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "sockname":
            return self.port.address
        if name == "socket":
            return self.port.socket
        return default

    def is_closing(self) -> bool:
        return self._closed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.port.release(self)
        asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()


def open_socket(address: str, port: int) -> socket.socket:
    """A non-blocking UDP socket bound to (address, port) with a large receive buffer
    (past ``net.core.rmem_max`` when allowed to force it)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        for option in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
            if option is None:
                continue
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, RECEIVE_BUFFER)
                break
            except OSError:
                continue
        sock.bind((address, port))
    except BaseException:
        sock.close()
        raise
    return sock
