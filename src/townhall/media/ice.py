"""Where the media plane listens: host candidates on chosen addresses and ports.

aiortc gathers on every non-loopback interface with any free port. A server needs more
control: the addresses to bind (``media_bind_addresses``), a UDP port range a firewall can
open (``media_port_min``..``media_port_max``), and, behind a 1:1 NAT (a cloud VM), the
public addresses to announce (``media_public_ips``): each is advertised with the port of
the matching local socket, and connectivity checks sent to it arrive on that socket. With
``SharedPorts`` (the server's default, ``media_shared_port``) every connection uses the
same port on an address (``shared_port.py``).
"""

from __future__ import annotations

import asyncio
import errno
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aioice import Candidate
from aioice.candidate import candidate_foundation, candidate_priority
from aioice.ice import Connection, StunProtocol, get_host_addresses
from aiortc import RTCPeerConnection

from townhall.errors import ConfigError
from townhall.media import shim
from townhall.media.shared_port import SharedPort, open_socket

RECEIVE_BUFFER = 1 << 20

P = TypeVar("P", bound=asyncio.DatagramProtocol)


class SharedPorts:
    """The shared port of each local address, opened on first use; closed by the owner."""

    def __init__(self) -> None:
        self._ports: dict[str, SharedPort] = {}

    def on(self, address: str, ports: tuple[int, int] | None) -> SharedPort:
        found = self._ports.get(address)
        if found is not None:
            return found
        found = SharedPort(_bind_in_range(open_socket, address, ports))
        self._ports[address] = found
        return found

    def close(self) -> None:
        for port in self._ports.values():
            port.close()
        self._ports.clear()


@dataclass(frozen=True)
class Binding:
    addresses: tuple[str, ...] = ()
    """Local addresses to bind; empty: every non-loopback interface."""
    ports: tuple[int, int] | None = None
    """An inclusive UDP port range; None: any free port."""
    public_ips: tuple[str, ...] = ()
    shared: SharedPorts | None = None
    """One port per address for every connection; None: a socket per connection."""


def bind(pc: RTCPeerConnection, binding: Binding) -> None:
    """Make ``pc`` gather host candidates as ``binding`` says. Call before gathering."""
    for connection in shim.ice_connections(pc):

        async def gather(
            component: int,
            addresses: list[str],
            timeout: int = 5,  # noqa: ASYNC109 (aioice's signature)
            _c: Connection = connection,
        ) -> list[Candidate]:
            return await _gather(_c, component, binding)

        shim.gather_with(connection, gather)


async def _gather(connection: Connection, component: int, binding: Binding) -> list[Candidate]:
    loop = asyncio.get_running_loop()
    addresses = list(binding.addresses) or get_host_addresses(use_ipv4=True, use_ipv6=False)
    candidates: list[Candidate] = []
    for address in addresses:
        if binding.shared is not None:
            shared = binding.shared.on(address, binding.ports)
            protocol = StunProtocol(connection)
            transport: Any = shared.open_lane(protocol, connection.local_username)
        else:
            transport, protocol = await _endpoint(
                loop, lambda: StunProtocol(connection), address, binding.ports
            )
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        host, port = transport.get_extra_info("sockname")[:2]
        protocol.local_candidate = _host_candidate(component, host, port)
        shim.add_protocol(connection, protocol)
        candidates.append(protocol.local_candidate)
        for public in binding.public_ips:
            candidates.append(_host_candidate(component, public, port))
    return candidates


def _host_candidate(component: int, host: str, port: int) -> Candidate:
    return Candidate(
        foundation=candidate_foundation("host", "udp", host),
        component=component,
        transport="udp",
        priority=candidate_priority(component, "host"),
        host=host,
        port=port,
        type="host",
    )


def _bind_in_range(
    make: Callable[[str, int], socket.socket], address: str, ports: tuple[int, int] | None
) -> socket.socket:
    if ports is None:
        return make(address, 0)
    low, high = ports
    start = random.randint(low, high)
    for offset in range(high - low + 1):
        try:
            return make(address, low + (start - low + offset) % (high - low + 1))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
    raise ConfigError(
        "media_ports_exhausted", f"No free UDP port between {low} and {high} on {address}."
    )


async def _endpoint(
    loop: asyncio.AbstractEventLoop,
    factory: Callable[[], P],
    address: str,
    ports: tuple[int, int] | None,
) -> tuple[Any, P]:
    if ports is None:
        return await loop.create_datagram_endpoint(factory, local_addr=(address, 0))
    low, high = ports
    start = random.randint(low, high)
    for offset in range(high - low + 1):
        port = low + (start - low + offset) % (high - low + 1)
        try:
            return await loop.create_datagram_endpoint(factory, local_addr=(address, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
    raise ConfigError(
        "media_ports_exhausted", f"No free UDP port between {low} and {high} on {address}."
    )
