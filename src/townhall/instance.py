"""What a running server leaves in its data directory for the operator commands beside it."""

from __future__ import annotations

from pathlib import Path

from townhall.config import Settings

PUBLIC_URL_FILE = "public_url"
"""The address ``serve`` answers on, written at start-up: the configured ``public_url``, or
``http://<host>:<port>`` from the command line, so that a sign-in link printed by an
operator command opens this instance and not whatever port the defaults name."""


def record_public_url(settings: Settings) -> None:
    path = settings.data_dir / PUBLIC_URL_FILE
    path.write_text(settings.resolved_public_url + "\n")


def recorded_public_url(data_dir: Path) -> str | None:
    try:
        text = (data_dir / PUBLIC_URL_FILE).read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return text or None


def with_recorded_public_url(settings: Settings) -> Settings:
    """The settings for an operator command: a configured ``public_url`` wins; otherwise the
    one the server last recorded in the same data directory, if any."""
    if settings.public_url is not None:
        return settings
    recorded = recorded_public_url(settings.data_dir)
    if recorded is None:
        return settings
    return settings.model_copy(update={"public_url": recorded})
