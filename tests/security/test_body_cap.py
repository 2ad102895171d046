"""Item 9: request bodies are capped (64 KiB outside the picture uploads) and an oversized
one is answered 413 in the usual error shape before it is read to its end."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

KIB = 1024


def too_large(r: Any, limit: int = 64 * KIB) -> bool:
    error = r.json()["error"]
    return r.status_code == 413 and error["code"] == "body_too_large" and error["limit"] == limit


async def test_declared_oversize_body_is_refused(client: Any) -> None:
    """A 1 MiB JSON to the unauthenticated code endpoint is refused from its length."""
    body = json.dumps({"email": "ada@example.org", "pad": "x" * (1024 * KIB)})
    r = await client.post(
        "/api/auth/code", content=body, headers={"Content-Type": "application/json"}
    )
    assert too_large(r)


async def test_streamed_body_is_cut_off_at_the_cap(client: Any) -> None:
    """A body with no length is read only a chunk past the cap, not to its end."""
    sent = 0
    piece = b" " * (16 * KIB)

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"email": "ada@example.org", "pad": "'
        for _ in range(6400):  # 100 MiB, if anyone read it all
            sent += len(piece)
            yield piece
        yield b'"}'

    r = await client.post(
        "/api/auth/code", content=body(), headers={"Content-Type": "application/json"}
    )
    assert too_large(r)
    assert sent <= 64 * KIB + 2 * len(piece)


async def test_bodies_under_the_cap_are_served(client: Any) -> None:
    """A body just under the cap reaches the route as before."""
    body = json.dumps({"email": "ada@example.org"}).encode()
    body += b" " * (64 * KIB - len(body))
    r = await client.post(
        "/api/auth/code", content=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 202, r.text


@pytest.mark.settings(http_max_body_bytes=4 * KIB)
async def test_the_cap_is_a_setting(client: Any) -> None:
    """http_max_body_bytes sets the cap."""
    r = await client.post("/api/auth/code", content=b"{" + b" " * 5000 + b"}")
    assert too_large(r, 4 * KIB)


async def test_picture_uploads_keep_their_own_cap(people: Any) -> None:
    """An avatar of 1 MB is far over the general cap and still accepted."""
    from io import BytesIO

    from PIL import Image

    image = Image.effect_noise((600, 600), 64).convert("RGB")
    out = BytesIO()
    image.save(out, "PNG")
    assert out.tell() > 256 * KIB
    ada = await people.member("ada")
    r = await ada.put("/api/me/avatar", files={"file": ("a.png", out.getvalue(), "image/png")})
    assert r.status_code == 200, r.text


async def test_a_contact_upload_has_a_cap_sized_for_its_hashes(people: Any) -> None:
    """Sharing contacts takes a body sized for contacts_max_hashes, and no more."""
    import hashlib

    ada = await people.member("ada")
    book = [hashlib.sha256(f"friend{i}@example.org".encode()).hexdigest() for i in range(7000)]
    r = await ada.put("/api/me/contacts", json={"hashes": book[:5000]})
    assert r.status_code == 200, r.text
    r = await ada.put("/api/me/contacts", json={"hashes": book})
    assert too_large(r, 5000 * 80 + 1024)
