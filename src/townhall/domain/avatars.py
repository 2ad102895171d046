"""Pictures (avatars and club icons): decode an upload, square it, re-encode it as WebP
without metadata, and swap the stored file.

The rendering functions are synchronous and CPU-bound; ``Pictures`` runs them in a worker
thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from io import BytesIO

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from townhall.config import Settings
from townhall.errors import InvalidInput, TooLarge
from townhall.files import FileStore
from townhall.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

# Pillow's names for the formats we accept; phones write multi-picture JPEGs as "MPO".
ACCEPTED_FORMATS = frozenset({"PNG", "JPEG", "MPO", "WEBP"})
WEBP_QUALITY = 85


def not_an_image() -> InvalidInput:
    return InvalidInput("avatar_not_image", "That file is not a PNG, JPEG or WebP image.")


def render_avatar(data: bytes, size: int, max_pixels: int) -> bytes:
    """Decode ``data`` (PNG, JPEG or WebP), turn it upright by its EXIF orientation,
    crop the centre square, scale it to ``size`` pixels and encode it as WebP.

    The result carries pixels only: no EXIF, XMP or ICC profile (colours are converted
    to sRGB first). Raises ``InvalidInput`` for anything that is not such an image.
    """
    try:
        image = Image.open(BytesIO(data))
    except Image.DecompressionBombError:
        raise too_many_pixels() from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise not_an_image() from None
    with image:
        if image.format not in ACCEPTED_FORMATS:
            raise InvalidInput(
                "avatar_unsupported_type", "Avatars must be PNG, JPEG or WebP images."
            )
        # Checked on the header, before a single pixel is decoded.
        if image.width * image.height > max_pixels:
            raise too_many_pixels()
        try:
            return _render(image, size)
        except Image.DecompressionBombError:
            raise too_many_pixels() from None
        except Exception as exc:  # any decoder failure on untrusted bytes
            logger.debug("avatar failed to decode: %r", exc)
            raise not_an_image() from None


def too_many_pixels() -> InvalidInput:
    return InvalidInput("avatar_too_many_pixels", "That image has too many pixels.")


def _render(image: Image.Image, size: int) -> bytes:
    # JPEG can decode at 1/2, 1/4 or 1/8 scale, which saves most of the work on photos.
    image.draft(None, (size, size))
    image.load()
    upright = ImageOps.exif_transpose(image)
    pixels = _to_srgb(upright)
    square = ImageOps.fit(pixels, (size, size), Image.Resampling.LANCZOS)
    # A fresh image from raw pixels: nothing from the upload's info dict can follow it.
    clean = Image.frombytes(square.mode, square.size, square.tobytes())
    out = BytesIO()
    clean.save(out, "WEBP", quality=WEBP_QUALITY, method=4)
    return out.getvalue()


def _to_srgb(image: Image.Image) -> Image.Image:
    """RGB or RGBA pixels in sRGB, whatever the mode and colour profile of the upload."""
    if image.mode.startswith("I"):
        # 16-bit greyscale PNG: scale to 8 bits rather than clip everything to white.
        image = image.convert("I").point(lambda v: v / 256).convert("L")
    alpha = image.has_transparency_data
    mode = "RGBA" if alpha else "RGB"
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(BytesIO(icc))
            converted = ImageCms.profileToProfile(
                image,
                source,
                ImageCms.createProfile("sRGB"),
                outputMode="RGBA" if image.mode == "RGBA" else "RGB",
            )
            if converted is not None:
                image = converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            # A broken profile is ignored: the pixels are still usable as they are.
            logger.debug("avatar colour profile ignored")
    return image if image.mode == mode else image.convert(mode)


# Decoding is memory-hungry (a 50-megapixel PNG is 200 MB of pixels): a few at a time.
RENDER_WORKERS = 2


class Pictures:
    """Square pictures people upload (avatars, club icons): size-checked, rate limited per
    person, re-encoded a few at a time across the whole process, and stored as files."""

    def __init__(self, settings: Settings, limiter: RateLimiter, files: FileStore) -> None:
        self._settings = settings
        self._limiter = limiter
        self._files = files
        self._renders = asyncio.Semaphore(RENDER_WORKERS)

    async def replace(
        self,
        uploader_id: int,
        data: bytes,
        noun: str,
        put: Callable[[str], Awaitable[str | None]],
    ) -> None:
        """Store ``data`` re-encoded, then ``put(key)`` it in place (in a transaction of the
        caller's), which returns the key it replaced. The new file goes if ``put`` fails;
        the replaced one goes once it succeeded."""
        s = self._settings
        if len(data) > s.avatar_max_bytes:
            raise TooLarge("avatar_too_large", f"{noun} are at most {s.avatar_max_bytes} bytes.")
        await self._limiter.hit(f"avatar:{uploader_id}", s.limit_avatar_uploads_per_user)
        async with self._renders:
            image = await asyncio.to_thread(
                render_avatar, data, s.avatar_size_px, s.avatar_max_pixels
            )
        key = await asyncio.to_thread(self._files.put, image, "webp")
        try:
            old = await put(key)
        except BaseException:
            self._files.delete(key)
            raise
        self.discard(old)

    def discard(self, key: str | None) -> None:
        """Delete a picture no longer referenced (None: nothing to do)."""
        self._files.delete(key)
