"""QR codes: the sizes docs/token-format.md promises, and an independent decoder (ZXing) reads them."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image

from events import keys, tokens
from server import qr

SERVER = keys.generate_private_key()


def sample(rotating: bool = True) -> str:
    return tokens.issue(
        signing_key=SERVER,
        key_id=0xFFFF,
        event_id="ev" + "f" * 16,
        type=tokens.TokenType.VOUCHER,
        issued_at=2**32 - 10**6,
        valid_until=2**32 - 1,
        campaign=255,
        max_uses=255,
        rotating=rotating,
    )


def decoded_text(png: bytes) -> str:
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(results) == 1 and results[0].format == zxingcpp.BarcodeFormat.QRCode
    return results[0].text


def test_text_form_is_version_6_alphanumeric_at_m() -> None:
    code = qr.make(sample())
    assert (code.version, code.error, code.mode) == (6, "M", "alphanumeric")


@pytest.mark.parametrize("host", ["POPPASS.EXAMPLE", "SHOP.POPPASS.EXAMPLE", "A" * 21])
def test_url_form_is_version_7_for_hosts_up_to_21_characters(host: str) -> None:
    code = qr.make(tokens.to_url(sample(), host))
    assert (code.version, code.error, code.mode) == (7, "M", "alphanumeric")


def test_a_longer_host_still_fits_version_8() -> None:
    assert qr.version(tokens.to_url(sample(), "A" * 22)) == 8


def test_rotating_form_is_version_7() -> None:
    assert qr.version(sample() + "-123456") == 7


@pytest.mark.parametrize("form", ["text", "url", "rotating"])
def test_zxing_reads_every_form(form: str) -> None:
    text = sample()
    content = {"text": text, "url": tokens.to_url(text, "poppass.example"), "rotating": text + "-042042"}[form]
    assert decoded_text(qr.png(content)) == content


def test_svg_is_scalable_and_titled() -> None:
    svg = qr.svg(sample(), title="HBXEPNX3EMVPXS2M")
    assert svg.startswith("<svg") and "viewBox" in svg and "width=" not in svg.split(">")[0]
    assert "<title>HBXEPNX3EMVPXS2M</title>" in svg
