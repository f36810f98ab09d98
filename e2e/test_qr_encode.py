"""web/static/js/qr-encode.js in real Chromium, on a page of the real server under its CSP.

The browser must draw the same QR codes as the server (server/qr.py, segno): the same version at
the same error correction, and a picture ZXing reads back as exactly the input.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Page

from events import tokens
from server import qr
from tests.vectors import build

VECTORS = json.loads(build.PATH.read_text(encoding="utf-8"))
TEXT = VECTORS["tokens"][0]["text"]
HOST = "127.0.0.1:8000"
FORMS = {
    "text": TEXT,
    "url": tokens.to_url(TEXT, HOST),
    "rotating": TEXT + "-123456",
}
MARKUP = "<b>李</b> & <script>x</script>"

PRELUDE = """
const m = await import('/static/js/qr-encode.js');
const outcome = async (call) => {
  try {
    return { ok: true, value: await call() };
  } catch (error) {
    return { ok: false, error: error?.name, message: String(error?.message ?? error) };
  }
};
"""


@pytest.fixture
def run(page: Page, live_server):
    """Evaluate a JS function body (`arg` in scope) on the home page, failing on any page error."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    response = page.goto(live_server.url + "/")
    assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]

    def evaluate(body: str, arg: Any = None) -> Any:
        result = page.evaluate(f"async (arg) => {{ {PRELUDE}\n{body} }}", arg)
        assert errors == []
        return result

    return evaluate


def segno_version(text: str, error: str = "m") -> int:
    if error == qr.ERROR_CORRECTION:
        return qr.version(text)  # exactly what the server draws
    return int(qr.segno.make(text, error=error, micro=False, boost_error=False).version)


def test_the_token_forms_get_segnos_versions(run) -> None:
    got = run("return Promise.all(arg.map((text) => m.qrVersion(text)));", list(FORMS.values()))
    assert got == [segno_version(text) for text in FORMS.values()]
    assert got == [6, 7, 7]  # what docs/token-format.md promises


@pytest.fixture
def samples() -> list[str]:
    return [
        *FORMS.values(),
        tokens.to_url(TEXT, "A" * 22),  # one character too many for version 7
        tokens.to_url(TEXT, "A" * 21),
        "https://poppass.example/v/" + TEXT[2:].lower(),  # lower case: byte mode
        "0123456789" * 30,  # numeric mode
        "HELLO WORLD",
        "a",
        MARKUP,
    ]


def test_versions_match_segno(run, samples: list[str]) -> None:
    levels = ["L", "M", "Q", "H"]
    got = run(
        """
        const out = [];
        for (const text of arg.samples) for (const ecc of arg.levels) out.push(await m.qrVersion(text, { ecc }));
        return out;
        """,
        {"samples": samples, "levels": levels},
    )
    assert got == [segno_version(text, level.lower()) for text in samples for level in levels]


@pytest.mark.parametrize("content", [*FORMS.values(), MARKUP], ids=[*FORMS, "markup"])
def test_zxing_reads_the_drawn_svg(page: Page, run, content: str) -> None:
    shape = run(
        """
        const svg = await m.qrSvg(arg, { label: 'pass QR' });
        svg.setAttribute('width', '400');
        svg.setAttribute('height', '400');
        svg.id = 'drawn';
        document.body.prepend(svg);
        return {
          tag: svg.namespaceURI + ' ' + svg.localName,
          role: svg.getAttribute('role'),
          label: svg.getAttribute('aria-label'),
          children: [...svg.children].map((child) => child.localName),
          styled: svg.querySelectorAll('[style]').length + (svg.hasAttribute('style') ? 1 : 0),
          viewBox: svg.getAttribute('viewBox'),
          rendering: svg.getAttribute('shape-rendering'),
        };
        """,
        content,
    )
    count = 4 * segno_version(content) + 17 + 2 * 4  # modules plus a quiet zone of 4 each side
    assert shape == {
        "tag": "http://www.w3.org/2000/svg svg",
        "role": "img",
        "label": "pass QR",
        "children": ["rect", "path"],  # the text never becomes markup
        "styled": 0,
        "viewBox": f"0 0 {count} {count}",
        "rendering": "crispEdges",
    }
    shot = page.locator("#drawn").screenshot()
    image = Image.open(io.BytesIO(shot))
    assert image.size == (400, 400)
    results = zxingcpp.read_barcodes(image)
    assert [(r.format, r.text) for r in results] == [(zxingcpp.BarcodeFormat.QRCode, content)]


def test_bad_input_is_refused_with_a_range_error(run) -> None:
    got = run(
        """
        const started = performance.now();
        const cases = [
          ['', {}],
          ['A'.repeat(5000), {}],
          ['x'.repeat(5000), {}],
          ['1'.repeat(20000), {}],
          ['A'.repeat(3392), {}],        // one more than version 40-M holds in alphanumeric mode
          ['李'.repeat(778), {}],         // 2334 UTF-8 bytes: version 40-M holds 2331
          ['A', { ecc: 'X' }],
        ];
        const results = [];
        for (const [text, options] of cases) {
          results.push(await outcome(() => m.qrVersion(text, options)));
          results.push(await outcome(async () => (await m.qrSvg(text, options)).localName));
        }
        results.push(await outcome(() => m.qrSvg(42)));
        return { results, ms: performance.now() - started };
        """,
    )
    *refused, not_a_string = got["results"]
    assert [r["error"] for r in refused] == ["RangeError"] * len(refused)
    assert all(r["message"] for r in refused)
    assert "empty" in refused[0]["message"] and "too long" in refused[2]["message"]
    assert not_a_string["error"] == "TypeError"
    assert got["ms"] < 5000


def test_the_largest_codes_still_fit(run) -> None:
    got = run(
        """
        return [
          await m.qrVersion('A'.repeat(3391)),
          await m.qrVersion('李'.repeat(777)),
          (await m.qrSvg('A'.repeat(3391))).getAttribute('viewBox'),
        ];
        """,
    )
    assert got == [40, 40, "0 0 185 185"]
