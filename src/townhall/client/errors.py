"""The client library's errors: one for every refusal the server explains, one for lost links."""

from __future__ import annotations

from typing import Any


class TownhallAPIError(Exception):
    """The server refused a request and said why.

    ``status`` is the HTTP status, or ``None`` for an answer on the live WebSocket; ``code``
    is the stable snake_case error code and ``message`` the human sentence.
    """

    def __init__(self, status: int | None, code: str, message: str, **extra: Any) -> None:
        super().__init__(f"{code}: {message}" if status is None else f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    @classmethod
    def from_body(cls, status: int | None, body: Any) -> TownhallAPIError:
        """Build the error from ``{"error": {"code", "message", ...}}`` or whatever came."""
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            extra = {k: v for k, v in error.items() if k not in ("code", "message")}
            return cls(
                status,
                str(error.get("code", "unknown_error")),
                str(error.get("message", "")),
                **extra,
            )
        if isinstance(body, dict) and "detail" in body:
            return cls(status, "invalid_input", str(body["detail"]))
        return cls(status, f"http_{status}" if status else "unknown_error", str(body)[:200])


class LiveConnectionLost(ConnectionError):
    """The WebSocket dropped before a request was answered; it may or may not have run."""


class LiveClosed(ConnectionError):
    """The live connection is closed for good (closed by the caller, or reconnecting failed)."""
