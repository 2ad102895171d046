"""Stored files (avatars, club icons) in a directory under the data dir, named by random keys."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}\.[a-z]{3,4}$")


def private_dir(path: Path) -> None:
    """Make ``path`` (and missing parents) a directory only its owner can enter. One that
    exists already keeps its mode, which is the operator's choice; what Townhall writes in
    it is private anyway (the database and the secret are created 0600)."""
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes, suffix: str) -> str:
        """Write ``data`` atomically under a new random key and return the key."""
        key = f"{secrets.token_urlsafe(18)}.{suffix}"
        tmp = self.root / f".{key}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, self.root / key)
        return key

    def path(self, key: str) -> Path | None:
        if not KEY.match(key):
            return None
        path = self.root / key
        return path if path.is_file() else None

    def delete(self, key: str | None) -> None:
        if key and KEY.match(key):
            (self.root / key).unlink(missing_ok=True)
