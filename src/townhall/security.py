"""Tokens, codes and hashes: how secrets are made and how they are kept (hashed, never raw)."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_token(nbytes: int = 32) -> str:
    """A URL-safe random token for sessions, invite links and sign-in links."""
    return secrets.token_urlsafe(nbytes)


def hash_token(token: str) -> str:
    """The stored form of a token: SHA-256 is enough for 256 random bits."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_code(length: int) -> str:
    """A numeric one-time code with leading zeros kept."""
    return "".join(secrets.choice("0123456789") for _ in range(length))


def hash_code(code: str, email: str, key: bytes) -> str:
    """Codes are short, so they are keyed with the instance secret and bound to the address."""
    return hmac.new(key, f"{email}\0{code}".encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def normalize_email(email: str) -> str:
    return email.strip().lower()


def email_hash(email: str) -> str:
    """The contact identifier clients upload: SHA-256 of the lower-cased, trimmed address."""
    return hashlib.sha256(normalize_email(email).encode()).hexdigest()
