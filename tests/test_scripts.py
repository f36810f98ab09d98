"""Our own scripts are served minified (server/controllers/scripts.py): smaller, without their
comments, revalidated by ETag, and exactly as written with minify_scripts=False."""

from __future__ import annotations

import gzip

import pytest
from litestar.testing import TestClient

from server.app import create_app
from server.controllers.scripts import SCRIPTS

SOURCES = sorted(path.name for path in SCRIPTS.glob("*.js"))


def test_every_script_is_served_smaller_and_without_its_comments(client: TestClient) -> None:
    raw = minified = 0
    for name in SOURCES:
        source = (SCRIPTS / name).read_bytes()
        response = client.get(f"/static/js/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith("text/javascript")
        assert len(response.content) < len(source), name
        assert b"\n//" not in response.content and b"/**" not in response.content, name
        raw += len(gzip.compress(source, 6))
        minified += len(gzip.compress(response.content, 6))
    assert minified < 0.8 * raw  # the point of it: a fifth less at least, gzipped


def test_strings_and_template_literals_survive(client: TestClient) -> None:
    # What a comment stripper could get wrong: "//" inside strings and template literals.
    assert '"http://www.w3.org/2000/svg"' in client.get("/static/js/qr-encode.js").text
    assert (
        "`${scheme}://${window.location.host.toUpperCase()}/V/${text.slice(2)}`"
        in client.get("/static/js/station-qr.js").text
    )
    assert (
        '`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`'
        in client.get("/static/js/wall.js").text
    )
    assert "`does not start with ${PREFIX}`" in client.get("/static/js/token.js").text


def test_an_unchanged_script_is_revalidated_with_a_304(client: TestClient) -> None:
    first = client.get("/static/js/token.js")
    assert first.headers["cache-control"] == "no-cache"
    etag = first.headers["etag"]
    again = client.get("/static/js/token.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert client.get("/static/js/token.js", headers={"If-None-Match": '"stale"'}).status_code == 200


@pytest.mark.parametrize("name", ["nope.js", "..%2Fsw.js", "%2e%2e", "token.js%00", "TOKEN.JS", "token"])
def test_anything_else_is_a_404(client: TestClient, name: str) -> None:
    assert client.get(f"/static/js/{name}").status_code == 404


def test_raw_scripts_are_served_as_written(db) -> None:
    with TestClient(create_app(db, minify_scripts=False)) as raw:
        for name in ("token.js", "station-app.js"):
            assert raw.get(f"/static/js/{name}").content == (SCRIPTS / name).read_bytes()
