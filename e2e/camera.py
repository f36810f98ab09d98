"""Chromium's fake camera: a Y4M file it plays in a loop, painted here from a QR code.

The file is a browser-level flag (--use-file-for-fake-video-capture) and Chromium opens it when
a page starts the camera, so a test may launch the browser first and paint the picture later.
"""

from __future__ import annotations

from pathlib import Path

from server import qr

WIDTH, HEIGHT = 640, 480
DARK, LIGHT = 16, 235  # video-range luma


def y4m(text: str | None, path: Path, *, frames: int = 3) -> Path:
    """A Y4M file whose every frame is the QR code of `text`, ~360 px with its quiet zone, centred
    (`None`: a blank picture)."""
    rows = list(qr.make(text).matrix_iter(scale=1, border=4)) if text is not None else [[False]]
    scale = 360 // len(rows)
    side = len(rows) * scale
    left, top = (WIDTH - side) // 2, (HEIGHT - side) // 2
    luma = bytearray([LIGHT]) * (WIDTH * HEIGHT)
    for r, row in enumerate(rows):
        line = bytearray()
        for dark in row:
            line += bytes([DARK if dark else LIGHT]) * scale
        for dy in range(scale):
            start = (top + r * scale + dy) * WIDTH + left
            luma[start : start + side] = line
    chroma = bytes([0x80]) * (WIDTH // 2 * HEIGHT // 2 * 2)
    frame = b"FRAME\n" + bytes(luma) + chroma
    path.write_bytes(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F30:1 Ip A1:1 C420jpeg\n".encode() + frame * frames)
    return path


def camera_args(path: Path) -> list[str]:
    """Chromium flags for a fake camera showing `path`, with camera permission prompts answered yes."""
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={path}",
    ]
