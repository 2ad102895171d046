"""Townhall: live voice rooms, self-hosted."""

__version__ = "0.1.0"
