"""Regenerate the PNG app icons from the design in icon.svg (a 64-unit grid).

    .venv/bin/python web/static/icons/make_icons.py

icon-192.png and icon-512.png: the blue rounded square with the white QR-like finder squares,
transparent corners (purpose "any"). icon-maskable-512.png: the same glyph on a full-bleed blue
square, scaled into the central 80 % safe zone so any launcher mask keeps all of it.
Drawn at 4x and downsampled for smooth edges.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
BLUE = (0x1F, 0x4F, 0xD1, 255)
WHITE = (255, 255, 255, 255)
SUPERSAMPLE = 4

# (x, y, width, height, corner radius) on icon.svg's 64x64 grid.
WHITE_RECTS = [
    (12, 12, 16, 16, 3),
    (36, 12, 16, 16, 3),
    (12, 36, 16, 16, 3),
    (38, 38, 6, 6, 0),
    (46, 46, 6, 6, 0),
    (46, 36, 6, 4, 0),
    (36, 46, 4, 6, 0),
]
BLUE_RECTS = [(17, 17, 6, 6, 0), (41, 17, 6, 6, 0), (17, 41, 6, 6, 0)]


def _rect(draw: ImageDraw.ImageDraw, box: tuple[float, ...], scale: float, offset: float, fill) -> None:
    x, y, w, h, r = box
    xy = (offset + x * scale, offset + y * scale, offset + (x + w) * scale - 1, offset + (y + h) * scale - 1)
    if r:
        draw.rounded_rectangle(xy, radius=r * scale, fill=fill)
    else:
        draw.rectangle(xy, fill=fill)


def render(size: int, *, maskable: bool = False) -> Image.Image:
    big = size * SUPERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if maskable:
        draw.rectangle((0, 0, big - 1, big - 1), fill=BLUE)
        # The glyph spans 12..52 (40 units): fit it in the middle 60 % (well inside the 80 % circle).
        scale = big * 0.6 / 40
        offset = big / 2 - 32 * scale
    else:
        scale = big / 64
        offset = 0.0
        _rect(draw, (0, 0, 64, 64, 14), scale, offset, BLUE)
    for box in WHITE_RECTS:
        _rect(draw, box, scale, offset, WHITE)
    for box in BLUE_RECTS:
        _rect(draw, box, scale, offset, BLUE)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    for name, size, maskable in (
        ("icon-192.png", 192, False),
        ("icon-512.png", 512, False),
        ("icon-maskable-512.png", 512, True),
    ):
        image = render(size, maskable=maskable)
        if maskable:
            image = image.convert("RGB")
        # Two colours and their anti-aliased edges: a 64-colour palette looks the same and is a
        # quarter of the bytes every tablet precaches (docs/benchmarks.md, station precache).
        image.quantize(64, method=Image.Quantize.FASTOCTREE).save(HERE / name, optimize=True)


if __name__ == "__main__":
    main()
