"""A diagnosis bundle's saved store pages served as a store of their own (`sandbox yahoo --bundle`).

A shop's bundle (`recore-connector diagnose`) holds every store page the connector uses, as the
shop's store showed it, redacted. Served again at the paths they came from, they let the parsers,
the reader and the diagnosis itself run against that store without it: a real shop's bundle
becomes a regression test. GET only, read only, no login (the pages are the logged-in ones).

Each page is served as rendered by Chromium (`rendered.html`, which has the rows of lists that
a browser fills in), or as fetched when it was not rendered. Links inside the pages carry the
same hashed ids as the saved URLs, so following them finds the saved page.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web

from sandbox.guard import loopback_guard

PAGES = web.AppKey("replay_pages", dict)


def _key(path: str, query: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return path, tuple(sorted(parse_qsl(query, keep_blank_values=True)))


def load_bundle(bundle: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], str]:
    """(path, sorted query) → the page's HTML, for every page of the bundle."""
    pages: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        for name in sorted(names):
            if not (name.startswith("yahoo/") and name.endswith("/page.json")):
                continue
            folder = name.rsplit("/", 1)[0]
            info = json.loads(zf.read(name).decode("utf-8"))
            html = ""
            for body in ("rendered.html", "raw.html"):
                if f"{folder}/{body}" in names:
                    html = zf.read(f"{folder}/{body}").decode("utf-8")
                    if html:
                        break
            if html:
                url = urlsplit(info["url"])
                pages[_key(url.path, url.query)] = html
    return pages


async def serve_page(request: web.Request) -> web.Response:
    pages = request.app[PAGES]
    html = pages.get(_key(request.path, request.query_string))
    if html is None:  # the same page asked with other query values (paging, sorting)
        html = next((h for (path, _q), h in pages.items() if path == request.path), None)
    if html is None:
        return web.Response(status=404, text="not in the bundle")
    return web.Response(text=html, content_type="text/html", charset="utf-8")


def create_replay_app(bundle: Path) -> web.Application:
    app = web.Application(middlewares=[loopback_guard])
    app[PAGES] = load_bundle(bundle)
    app.router.add_get("/{tail:.*}", serve_page)
    return app
