"""Draw the web app's icons (src/townhall/web/icons/*.png) with Pillow.

Run once after changing the design: ``.venv/bin/python scripts/make_icons.py``.
The icon: three sound bars on the app's green, on a rounded square (or full bleed for the
maskable variant, whose important part stays inside the central 80 %).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "src" / "townhall" / "web" / "icons"
GREEN = (47, 111, 62, 255)
CREAM = (242, 239, 228, 255)
SIZES = {"icon-32.png": 32, "apple-touch-icon.png": 180, "icon-192.png": 192, "icon-512.png": 512}


def draw(size: int, maskable: bool) -> Image.Image:
    scale = 4  # draw large, shrink smoothly
    big = size * scale
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    if maskable:
        pen.rectangle((0, 0, big, big), fill=GREEN)
    else:
        pen.rounded_rectangle((0, 0, big - 1, big - 1), radius=big // 5, fill=GREEN)
    inner = big * (0.55 if maskable else 0.7)
    bar = inner / 5
    heights = (0.45, 0.9, 0.6)
    left = (big - inner) / 2
    for i, height in enumerate(heights):
        x = left + bar * (2 * i)
        h = inner * height
        top = (big - h) / 2
        pen.rounded_rectangle((x, top, x + bar, top + h), radius=bar / 2, fill=CREAM)
    return image.resize((size, size), Image.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, size in SIZES.items():
        draw(size, maskable=False).save(OUT / name, optimize=True)
    draw(512, maskable=True).save(OUT / "icon-maskable-512.png", optimize=True)
    print(f"icons written to {OUT}")


if __name__ == "__main__":
    main()
