"""Item 9: pictures are decoded only up to ~16 megapixels, and only members upload them."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from PIL import Image


def png(width: int, height: int) -> bytes:
    """A real, well-formed greyscale PNG: a few kilobytes on the wire, many pixels decoded."""
    out = BytesIO()
    Image.new("L", (width, height), 128).save(out, "PNG")
    return out.getvalue()


async def upload(client: Any, data: bytes) -> Any:
    return await client.put("/api/me/avatar", files={"file": ("a.png", data, "image/png")})


async def test_pictures_over_16_megapixels_are_refused(people: Any) -> None:
    """A 17-megapixel picture is refused from its header, before it is decoded."""
    ada = await people.member("ada")
    r = await upload(ada, png(5000, 3400))
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "avatar_too_many_pixels"
    assert (await ada.get("/api/me")).json()["avatar_url"] is None


async def test_waitlisted_people_cannot_upload_pictures(people: Any) -> None:
    """Someone on the waitlist has a username only: no avatar, refused before the body."""
    newcomer = await people.sign_in("newcomer@example.org", username="newcomer")
    assert (await newcomer.get("/api/me")).json()["status"] == "waitlisted"
    r = await upload(newcomer, png(64, 64))
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "not_a_member"
    assert (await newcomer.get("/api/me")).json()["avatar_url"] is None
