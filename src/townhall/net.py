"""Client addresses: which ``X-Forwarded-For`` hop to believe, and the key a limit counts.

A client can write anything into ``X-Forwarded-For``; only the hops appended by our own
reverse proxies are facts. So the header is read only when the connection comes from a
configured proxy (``trusted_proxies``), from the right, and the first hop that is not one
of our proxies is the client. Rate limits then count an IPv6 client by its /64: one
household or one server gets a whole /64 (RFC 6177), so keying on the full address would
hand every client 2**64 fresh buckets.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

IPV6_PREFIX = 64


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """``"10.0.0.1"`` or ``"10.0.0.0/8"`` entries as networks; ``ValueError`` names a bad one."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network") from None
    return tuple(networks)


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:443"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address | None, proxies: Sequence[Network]) -> bool:
    return address is not None and any(address in net for net in proxies)


def client_address(peer: str | None, forwarded_for: str, proxies: Sequence[Network]) -> str:
    """The client's address: the peer itself, unless the peer is one of our proxies; then
    the rightmost ``X-Forwarded-For`` hop that is not one of them (the leftmost hop when
    every one is a proxy). An unreadable hop ends the walk: the proxy that wrote it is the
    last thing we know."""
    here = _address(peer) if peer else None
    if not _trusted(here, proxies) or not forwarded_for:
        return str(here) if here is not None else (peer or "unknown")
    for hop in reversed(forwarded_for.split(",")):
        address = _address(hop)
        if address is None:
            break
        here = address
        if not _trusted(address, proxies):
            break
    return str(here)


def limit_key(address: str) -> str:
    """What rate limits count an address under: IPv4 as is, IPv6 by its /64."""
    parsed = _address(address)
    if parsed is None:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, IPV6_PREFIX), strict=False))
    return str(parsed)
