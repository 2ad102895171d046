"""S1 avatars over HTTP: decoded by content, squared, re-encoded as WebP, metadata gone."""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator
from io import BytesIO
from typing import Any

import pytest
from PIL import ExifTags, Image

RED, BLUE = (220, 20, 20), (20, 20, 220)
LATITUDE = (52.0, 31.0, 12.5)


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def photo_with_gps() -> bytes:
    """A landscape JPEG, red on the left and blue on the right, that a phone says to show
    rotated 90° clockwise, and that records where it was taken."""
    image = Image.new("RGB", (400, 200), BLUE)
    image.paste(RED, (0, 0, 200, 200))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: LATITUDE,
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (13.0, 24.0, 36.0),
    }
    return encode(image, "JPEG", exif=exif, quality=95)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims huge dimensions but holds almost no data: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


def riff_chunks(data: bytes) -> list[bytes]:
    """The chunk types of a WebP file (metadata would sit in EXIF, XMP and ICCP chunks)."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    kinds, pos = [], 12
    while pos + 8 <= len(data):
        kind, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        kinds.append(kind)
        pos += 8 + size + (size & 1)
    return kinds


async def upload(client: Any, data: bytes, name: str = "a.png", ctype: str = "image/png") -> Any:
    return await client.put("/api/me/avatar", files={"file": (name, data, ctype)})


def near(pixel: tuple[int, ...], colour: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 40 for a, b in zip(pixel[:3], colour, strict=True))


async def test_photo_is_upright_square_webp_without_location(people: Any, container: Any) -> None:
    """A phone JPEG with GPS comes back turned by its EXIF, squared, WebP, with no metadata."""
    ada = await people.member("ada")
    r = await upload(ada, photo_with_gps(), "holiday.jpg", "image/jpeg")
    assert r.status_code == 200, r.text
    url = r.json()["avatar_url"]
    assert url.startswith("/files/") and url.endswith(".webp")
    served = await ada.get(url)
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/webp"
    stored = container.files.path(url.removeprefix("/files/")).read_bytes()
    assert served.content == stored
    assert set(riff_chunks(stored)) <= {b"VP8 ", b"VP8L", b"VP8X", b"ALPH"}
    assert b"Exif" not in stored and b"PhoneMaker" not in stored and b"GPS" not in stored
    image = Image.open(BytesIO(stored))
    assert image.format == "WEBP"
    assert image.size == (512, 512)
    assert not image.getexif()
    assert not image.info.get("exif") and not image.info.get("xmp")
    assert not image.info.get("icc_profile")
    # Turned upright, the red half is on top; the centre square keeps both halves.
    rgb = image.convert("RGB")
    assert near(rgb.getpixel((256, 60)), RED)
    assert near(rgb.getpixel((256, 450)), BLUE)


@pytest.mark.settings(avatar_size_px=128)
async def test_size_comes_from_settings_and_transparency_survives(
    people: Any, container: Any
) -> None:
    """A transparent PNG becomes a WebP of the configured size that is still transparent."""
    ada = await people.member("ada")
    png = encode(Image.new("RGBA", (90, 300), (10, 200, 10, 0)), "PNG")
    r = await upload(ada, png)
    assert r.status_code == 200, r.text
    stored = container.files.path(r.json()["avatar_url"].removeprefix("/files/")).read_bytes()
    image = Image.open(BytesIO(stored))
    assert image.size == (128, 128)
    assert image.mode == "RGBA"
    assert image.getpixel((64, 64))[3] == 0


@pytest.mark.parametrize(
    ("fmt", "mode"),
    [
        ("PNG", "P"),
        ("PNG", "I;16"),
        ("PNG", "LA"),
        ("JPEG", "CMYK"),
        ("JPEG", "L"),
        ("WEBP", "RGB"),
    ],
)
async def test_every_accepted_kind_of_image_is_re_encoded(people: Any, fmt: str, mode: str) -> None:
    """Palette, 16-bit grey, CMYK and WebP uploads all come out as WebP avatars."""
    ada = await people.member("ada")
    r = await upload(
        ada, encode(Image.new(mode, (64, 48)), fmt), "x.bin", "application/octet-stream"
    )
    assert r.status_code == 200, r.text
    assert r.json()["avatar_url"].endswith(".webp")


async def test_type_is_read_from_the_content_not_the_name(people: Any) -> None:
    """A real PNG called photo.txt is accepted; text called avatar.png is refused."""
    ada = await people.member("ada")
    png = encode(Image.new("RGB", (32, 32), RED), "PNG")
    assert (await upload(ada, png, "photo.txt", "text/plain")).status_code == 200
    r = await upload(ada, b"<svg xmlns='http://www.w3.org/2000/svg'/>", "avatar.png", "image/png")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "avatar_not_image"


@pytest.mark.parametrize(
    "data",
    [b"", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, photo_with_gps()[:600]],
    ids=["empty", "png-signature-only", "truncated-jpeg"],
)
async def test_broken_files_are_not_images(people: Any, data: bytes) -> None:
    """Empty, damaged and cut-off files are refused with avatar_not_image."""
    ada = await people.member("ada")
    r = await upload(ada, data, "a.jpg", "image/jpeg")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "avatar_not_image"


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
async def test_other_image_formats_are_unsupported(people: Any, fmt: str) -> None:
    """GIF, BMP and TIFF are images, but not accepted ones, whatever they claim to be."""
    ada = await people.member("ada")
    r = await upload(ada, encode(Image.new("RGB", (16, 16)), fmt), "a.png", "image/png")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "avatar_unsupported_type"


@pytest.mark.parametrize("side", [8000, 30000], ids=["over-setting", "over-pillow-limit"])
async def test_decompression_bombs_are_refused(people: Any, side: int) -> None:
    """A few hundred bytes that claim 64 or 900 megapixels are refused before decoding."""
    ada = await people.member("ada")
    r = await upload(ada, png_header_only(side, side))
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "avatar_too_many_pixels"


@pytest.mark.settings(avatar_max_bytes=4096)
async def test_file_just_over_the_limit_is_too_large(people: Any) -> None:
    """The limit counts the file's own bytes: one byte over is a 413."""
    ada = await people.member("ada")
    png = encode(Image.new("RGB", (8, 8)), "PNG")
    assert (await upload(ada, png + b"\x00" * (4096 - len(png)))).status_code == 200
    r = await upload(ada, png + b"\x00" * (4097 - len(png)))
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "avatar_too_large"


async def test_declared_oversize_body_is_refused_unread(people: Any) -> None:
    """A body announced as 6 MB is refused from its Content-Length."""
    ada = await people.member("ada")
    r = await upload(ada, b"\x00" * (6 * 1024 * 1024))
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "avatar_too_large"


async def test_endless_upload_is_cut_off_near_the_limit(people: Any) -> None:
    """A streamed body with no length is read only a little past 5 MB, not to its end."""
    ada = await people.member("ada")
    sent = 0
    piece = b"\x00" * 65536

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'--edge\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        yield b"Content-Type: image/png\r\n\r\n"
        for _ in range(1600):  # 100 MB, if anyone read it all
            sent += len(piece)
            yield piece

    r = await ada.put(
        "/api/me/avatar",
        content=body(),
        headers={"Content-Type": "multipart/form-data; boundary=edge"},
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "avatar_too_large"
    assert sent <= 5 * 1024 * 1024 + 2 * 65536 + 65536


async def test_replacing_deletes_the_old_file(people: Any, container: Any) -> None:
    """A new avatar replaces the old one, whose file is deleted and no longer served."""
    ada = await people.member("ada")
    first = (await upload(ada, encode(Image.new("RGB", (32, 32), RED), "PNG"))).json()
    second = (await upload(ada, encode(Image.new("RGB", (32, 32), BLUE), "PNG"))).json()
    assert first["avatar_url"] != second["avatar_url"]
    assert (await ada.get(first["avatar_url"])).status_code == 404
    assert (await ada.get(second["avatar_url"])).status_code == 200
    assert [p.name for p in container.files.root.iterdir()] == [
        second["avatar_url"].removeprefix("/files/")
    ]


async def test_refused_upload_keeps_the_current_avatar(people: Any) -> None:
    """A bad file changes nothing: the avatar in place stays and is still served."""
    ada = await people.member("ada")
    url = (await upload(ada, encode(Image.new("RGB", (32, 32)), "PNG"))).json()["avatar_url"]
    assert (await upload(ada, b"not an image")).status_code == 400
    assert (await ada.get("/api/me")).json()["avatar_url"] == url
    assert (await ada.get(url)).status_code == 200


async def test_removing_the_avatar_deletes_the_file(people: Any, container: Any) -> None:
    """DELETE clears the avatar and its file; doing it again is harmless."""
    ada = await people.member("ada")
    url = (await upload(ada, encode(Image.new("RGB", (32, 32)), "PNG"))).json()["avatar_url"]
    r = await ada.delete("/api/me/avatar")
    assert r.status_code == 200
    assert r.json()["avatar_url"] is None
    assert (await ada.get(url)).status_code == 404
    assert list(container.files.root.iterdir()) == []
    assert (await ada.delete("/api/me/avatar")).status_code == 200


@pytest.mark.parametrize(
    "kwargs",
    [
        {"files": {"image": ("a.png", b"x", "image/png")}},
        {"data": {"file": "just text"}},
        {"json": {"file": "aGVsbG8="}},
    ],
    ids=["wrong-field", "text-field", "json-body"],
)
async def test_missing_file_field_is_a_clear_error(people: Any, kwargs: dict[str, Any]) -> None:
    """Anything but a file in the multipart field 'file' gets avatar_missing."""
    ada = await people.member("ada")
    r = await ada.put("/api/me/avatar", **kwargs)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "avatar_missing"


async def test_upload_needs_a_session(client: Any) -> None:
    """Without a session nothing is stored."""
    r = await upload(client, encode(Image.new("RGB", (8, 8)), "PNG"))
    assert r.status_code == 401


@pytest.mark.settings(limit_avatar_uploads_per_user="2/3600")
async def test_uploads_are_rate_limited(people: Any) -> None:
    """Re-encoding costs CPU, so uploads per person are limited."""
    ada = await people.member("ada")
    png = encode(Image.new("RGB", (8, 8)), "PNG")
    assert (await upload(ada, png)).status_code == 200
    assert (await upload(ada, png)).status_code == 200
    r = await upload(ada, png)
    assert r.status_code == 429
    assert "Retry-After" in r.headers
