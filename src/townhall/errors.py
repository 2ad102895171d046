"""The one error tree. Domain code raises these; only ``townhall.api`` maps them to replies.

Every error a user can cause carries a stable ``code`` (snake_case, part of the API
contract, listed in docs/errors.md) and a human ``message``. The subclass says what kind
of failure it is, which the API turns into an HTTP status:

    TownhallError
    ├── InvalidInput        the request is malformed or breaks a rule       (400 / 422)
    ├── Unauthenticated     no valid session                                (401)
    ├── Forbidden           signed in, but not allowed                      (403)
    ├── NotFound            nothing there (or nothing you may see)          (404)
    ├── Conflict            clashes with the current state                  (409)
    ├── Gone                existed once, no longer usable                  (410)
    ├── TooLarge            an upload over the size limit                   (413)
    ├── RateLimited         too many attempts; carries ``retry_after``      (429)
    ├── Unavailable         a server resource is exhausted for now          (503)
    └── ConfigError         the operator's configuration is wrong (never sent to users)
"""

from __future__ import annotations

from typing import Any


class TownhallError(Exception):
    """Base of every error Townhall raises on purpose."""

    code = "error"

    def __init__(self, code: str | None = None, message: str = "", **details: Any) -> None:
        super().__init__(message or code or self.code)
        if code:
            self.code = code
        self.message = message or self.code.replace("_", " ")
        self.details = details


class InvalidInput(TownhallError):
    code = "invalid_input"


class Unauthenticated(TownhallError):
    code = "not_signed_in"


class Forbidden(TownhallError):
    code = "forbidden"


class NotFound(TownhallError):
    code = "not_found"


class Conflict(TownhallError):
    code = "conflict"


class Gone(TownhallError):
    code = "gone"


class TooLarge(TownhallError):
    code = "too_large"


class RateLimited(TownhallError):
    code = "rate_limited"

    def __init__(
        self, retry_after: int, message: str = "Too many attempts; try again later."
    ) -> None:
        super().__init__("rate_limited", message, retry_after=retry_after)
        self.retry_after = max(1, int(retry_after))


class Unavailable(TownhallError):
    code = "unavailable"


class ConfigError(TownhallError):
    code = "bad_configuration"
