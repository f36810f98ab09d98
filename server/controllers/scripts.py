"""PopPass's own scripts (web/static/js), served minified.

The sources stay as written, comments and all: they are read by people. What a tablet downloads
and keeps in its precache is the same code without comments and indentation (rJSmin, made to run
at start-up rather than in a build step), about a third smaller once gzipped, which is what keeps
the station's whole offline shell inside its budget (docs/benchmarks.md). Minified once when the
app is built, like the service worker: a changed script needs a restart, and a restart changes the
worker's version too. `poppass serve --raw-scripts` serves them as written, to debug in a browser.
Vendored libraries are already minified and stay under /static/vendor.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import rjsmin
from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from server.owners import PUBLIC

SCRIPTS = Path(__file__).resolve().parent.parent.parent / "web" / "static" / "js"


@dataclass(frozen=True)
class Script:
    body: bytes
    etag: str


def minify(source: str) -> str:
    return rjsmin.jsmin(source)


def load_scripts(*, minified: bool = True) -> dict[str, Script]:
    """Every .js under web/static/js by file name, minified unless told otherwise."""
    scripts = {}
    for path in sorted(SCRIPTS.glob("*.js")):
        source = path.read_text(encoding="utf-8")
        body = (minify(source) if minified else source).encode()
        scripts[path.name] = Script(body, '"' + hashlib.sha256(body).hexdigest()[:20] + '"')
    return scripts


class ScriptsController(Controller):
    path = "/static/js"
    opt = {"owner": PUBLIC}

    @get("/{name:str}", sync_to_thread=False, name="script", opt={"owner": PUBLIC})
    def script(self, request: Request, name: FromPath[str]) -> Response[bytes]:
        script = request.app.state.scripts.get(name)
        if script is None:
            raise NotFoundException()
        # no-cache: an online browser asks each time and gets a 304 while nothing changed, so a
        # new release reaches open pages at once; offline, the service worker answers.
        headers = {"ETag": script.etag, "Cache-Control": "no-cache"}
        asked = request.headers.get("if-none-match", "")
        if asked.strip() == "*" or script.etag in asked:
            return Response(b"", status_code=304, headers=headers)
        return Response(script.body, media_type="text/javascript; charset=utf-8", headers=headers)
