"""The visible language switch and the browser's translation catalogue."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Response
from msgspec import Struct

from server.i18n import COOKIE, SUPPORTED
from server.owners import PUBLIC

ONE_YEAR = 365 * 24 * 3600


class LanguageChoice(Struct):
    lang: str
    next: str = "/"


def _local_path(target: str) -> str:
    # Only same-site paths: "//evil.example" or "https://..." would be an open redirect.
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class LanguageController(Controller):
    path = "/"
    opt = {"owner": PUBLIC}

    @post("/language", sync_to_thread=False, name="set_language", status_code=303)
    def set_language(self, data: URLEncodedBody[LanguageChoice]) -> Redirect:
        response = Redirect(path=_local_path(data.next), status_code=303)
        if data.lang in SUPPORTED:
            response.set_cookie(COOKIE, data.lang, max_age=ONE_YEAR, samesite="lax", httponly=True)
        return response

    @get("/i18n/{filename:str}", sync_to_thread=False, name="browser_catalogue")
    def browser_catalogue(self, request: Request, filename: FromPath[str]) -> Response[dict[str, str]]:
        tag = filename.removesuffix(".json")
        if not filename.endswith(".json") or tag not in SUPPORTED:
            raise NotFoundException(f"no catalogue for {tag!r}")
        return Response(
            request.app.state.catalogues[tag].browser,
            headers={"Cache-Control": "no-cache"},
        )
