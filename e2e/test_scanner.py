"""web/static/js/scanner.js against Chromium's fake camera showing a QR code.

Each case launches its own Chromium: the camera's picture (a Y4M file painted from segno's
matrix of server.qr.make) is a browser-level flag. The page is a station screen (the only pages
whose Permissions-Policy lets the camera on: server/security_headers.py), so scanner.js,
qr-decode.js and the vendored jsQR run under the app's real CSP.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Playwright

from e2e.browser import CHROMIUM_ARGS, chromium_executable
from e2e.camera import camera_args, y4m
from events import tokens
from tests.vectors import build

VECTORS = json.loads(build.PATH.read_text(encoding="utf-8"))
BY_NAME = {v["name"]: v for v in VECTORS["tokens"]}
VALID = BY_NAME["valid voucher from the server key"]
FORGED = BY_NAME["body changed after signing"]

SCREEN = "/station/conflicts"  # a station screen that opens no camera of its own
OPEN_CAMERA = """async () => {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    stream.getTracks().forEach((track) => track.stop());
    return "opened";
  } catch (error) {
    return error.name;
  }
}"""

# Starts a scanner on a new <video>, collects what it reports for `ms` milliseconds (or until
# `count` reports), with each report's verdict and timings, then stops it.
SCAN = """
async (arg) => {
  const s = await import('/static/js/scanner.js');
  const t = await import('/static/js/token.js');
  const bundle = await t.verifyBundle(arg.vectors.bundle, arg.vectors.root_public_key, { eventId: arg.vectors.event_id });
  const video = document.createElement('video');
  document.body.append(video);
  const scans = [];
  let done;
  const finished = new Promise((resolve) => { done = resolve; });
  const stop = await s.startScanner(video, {
    repeatMs: arg.repeatMs,
    onScan: async (text, info) => {
      const started = performance.now();
      const verdict = await s.verdictFor(text, bundle, arg.now);
      const verifyMs = performance.now() - started;
      scans.push({ text, color: verdict.color, reason: verdict.reason, token_id: verdict.token && t.base32Encode(verdict.token.token_id),
                   decodeMs: info.decodeMs, verifyMs, decoder: info.decoder });
      if (scans.length >= arg.count) done();
    },
  });
  const timeout = setTimeout(done, arg.ms);
  await finished;
  clearTimeout(timeout);
  const tracks = video.srcObject.getVideoTracks();
  const live = tracks.map((track) => track.readyState);
  stop();
  return { scans, live, ended: tracks.map((track) => track.readyState), released: video.srcObject === null };
}
"""

TIMINGS: list[tuple[float, float]] = []  # (decode, verify) ms of every scan in this module


@pytest.fixture(scope="module", autouse=True)
def report_timings() -> Iterator[None]:
    yield
    if TIMINGS:  # shown with -s; timings are machine-dependent and not asserted
        decode, verify = (statistics.median(x) for x in zip(*TIMINGS, strict=True))
        total = statistics.median(d + v for d, v in TIMINGS)
        print(
            f"\nscanner: {len(TIMINGS)} scans; median decode {decode:.1f} ms, verify {verify:.1f} ms, decode+verify {total:.1f} ms"
        )


@pytest.fixture
def scan(playwright: Playwright, live_server, tmp_path: Path) -> Iterator[Any]:
    browsers = []

    def run(text: str, *, now: int = VALID["now"], count: int = 1, ms: int = 8000, repeat_ms: int = 2000) -> dict:
        camera = y4m(text, tmp_path / f"camera{len(browsers)}.y4m")
        browser = playwright.chromium.launch(
            executable_path=chromium_executable(),
            args=[*CHROMIUM_ARGS, *camera_args(camera)],
        )
        browsers.append(browser)
        context = browser.new_context(permissions=["camera"])
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(live_server.url + SCREEN)
        result = page.evaluate(SCAN, {"vectors": VECTORS, "now": now, "count": count, "ms": ms, "repeatMs": repeat_ms})
        assert errors == []
        TIMINGS.extend((s["decodeMs"], s["verifyMs"]) for s in result["scans"])
        return result

    yield run
    for browser in browsers:
        browser.close()


def test_only_station_pages_may_open_the_camera(playwright: Playwright, live_server, tmp_path: Path) -> None:
    browser = playwright.chromium.launch(
        executable_path=chromium_executable(),
        args=[*CHROMIUM_ARGS, *camera_args(y4m(VALID["text"], tmp_path / "camera.y4m"))],
    )
    try:
        page = browser.new_context(permissions=["camera"]).new_page()
        opened = {}
        for path in (SCREEN, "/", f"/events/{live_server.demo.event.id}"):
            page.goto(live_server.url + path)
            opened[path] = page.evaluate(OPEN_CAMERA)
    finally:
        browser.close()
    assert opened == {
        SCREEN: "opened",
        "/": "NotAllowedError",
        f"/events/{live_server.demo.event.id}": "NotAllowedError",
    }


def test_valid_voucher_is_green_and_reported_once(scan) -> None:
    result = scan(VALID["text"], count=2, ms=2500)  # ~30 frames see the code; the guard lets one through
    assert [(s["text"], s["color"], s["reason"], s["token_id"]) for s in result["scans"]] == [
        (VALID["text"], "green", None, VALID["token"]["id"])
    ]
    # No BarcodeDetector in Chromium on Linux: jsQR, off the page's thread (qr-decode-worker.js).
    assert result["scans"][0]["decoder"] == "jsQR (worker)"
    assert result["live"] == ["live"] and result["ended"] == ["ended"] and result["released"]  # stop() frees the camera


def test_forged_voucher_is_red_bad_signature(scan) -> None:
    result = scan(FORGED["text"], now=FORGED["now"])
    assert [(s["text"], s["color"], s["reason"]) for s in result["scans"]] == [(FORGED["text"], "red", "bad_signature")]


def test_url_form_is_decoded_and_verified(scan) -> None:
    url = tokens.to_url(VALID["text"], "poppass.example")
    result = scan(url, count=5, ms=8000, repeat_ms=0)  # no guard: several frames for the timings
    assert len(result["scans"]) == 5
    assert {(s["text"], s["color"], s["token_id"]) for s in result["scans"]} == {(url, "green", VALID["token"]["id"])}


def test_other_qr_codes_are_red_malformed(scan) -> None:
    result = scan("HELLO WORLD")
    assert [(s["text"], s["color"], s["reason"]) for s in result["scans"]] == [("HELLO WORLD", "red", "malformed")]
