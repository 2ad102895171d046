"""What one socket may send: a token bucket of messages and a cap on each message's size.

Sans-I/O: the connection hands each arriving message's size and the loop's time to its
``MessageGate`` and acts on the answer (docs/protocol.md, "Limits").
"""

from __future__ import annotations

from dataclasses import dataclass

CLOSE_TOO_BIG = 1009
"""A message over ``ws_max_message_bytes`` (the WebSocket standard's "message too big")."""
CLOSE_TOO_MANY = 4429
"""Too many: the person has ``ws_max_sockets_per_user`` sockets open already, or this
socket kept sending after being told to slow down."""


class TokenBucket:
    """``rate`` tokens a second, holding at most ``burst``; full to begin with."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self._at = now

    def take(self, now: float) -> float:
        """Take a token: 0.0 when taken, else the seconds until one is there."""
        self.tokens = min(self.burst, self.tokens + (now - self._at) * self.rate)
        self._at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


@dataclass(frozen=True, slots=True)
class Refusal:
    close: int | None
    """Close the socket with this code; None: answer ``rate_limited`` and read on."""
    retry_after: float = 0.0


class MessageGate:
    """Past the bucket a message is refused, not run; a socket whose refused messages in a
    row reach the burst again is closed, since it is not listening."""

    def __init__(self, rate: float, burst: int, max_bytes: int, now: float) -> None:
        self._bucket = TokenBucket(rate, burst, now)
        self._max_bytes = max_bytes
        self._refused = 0

    def check(self, size: int, now: float) -> Refusal | None:
        if size > self._max_bytes:
            return Refusal(CLOSE_TOO_BIG)
        wait = self._bucket.take(now)
        if not wait:
            self._refused = 0
            return None
        self._refused += 1
        if self._refused >= self._bucket.burst:
            return Refusal(CLOSE_TOO_MANY)
        return Refusal(None, wait)
