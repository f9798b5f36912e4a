"""The web dashboard at /: one HTML page, its ES modules and styles (src/tradewire/web), and the chart
library that `make` copies from web/node_modules into web/vendor. Everything comes from this server,
so the dashboard works offline; assets are sent gzip-compressed to clients that accept it (they hold
no secrets, so compressing them leaks nothing) and revalidated by ETag.

The page holds no inline script: its Content-Security-Policy (api/headers.py) allows only this
server's scripts, styles and connections.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
DASHBOARD_PAGES = ("/",)
ASSETS_URL = "/assets"
MAX_ASSET_PATH = 200
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
}
_COMPRESSIBLE = frozenset(_TYPES)


@dataclass(frozen=True, slots=True)
class Asset:
    """A file as it is sent: its bytes, gzip-compressed bytes and validator."""

    media_type: str
    raw: bytes
    compressed: bytes | None
    etag: str


class Assets:
    """The dashboard's files under `root`, read once per change of the file (size and mtime)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._cache: dict[Path, tuple[tuple[int, int], Asset]] = {}

    def get(self, relative: str) -> Asset | None:
        """The file at `relative` below the root with a known type; None for anything else (a path
        leaving the root, a hidden file, a directory, an unknown type)."""
        if len(relative) > MAX_ASSET_PATH or any(part.startswith(".") for part in relative.split("/")):
            return None
        if "\x00" in relative:  # no file has it, and the operating system refuses it (ValueError)
            return None
        path = (self.root / relative).resolve()
        media_type = _TYPES.get(path.suffix)
        if media_type is None or not path.is_relative_to(self.root) or not path.is_file():
            return None
        stat = path.stat()
        key = (stat.st_size, stat.st_mtime_ns)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        raw = path.read_bytes()
        compressed = gzip.compress(raw, 9, mtime=0) if path.suffix in _COMPRESSIBLE else None
        asset = Asset(media_type, raw, compressed, f'"{hashlib.sha256(raw).hexdigest()[:32]}"')
        self._cache[path] = (key, asset)
        return asset


def respond(request: Request, asset: Asset, cache_control: str) -> Response:
    """`asset` as an answer to `request`: 304 when the client holds it, gzip when it accepts that."""
    headers = {"ETag": asset.etag, "Cache-Control": cache_control, "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    body = asset.raw
    if asset.compressed is not None and "gzip" in request.headers.get("accept-encoding", "").lower():
        body = asset.compressed
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=asset.media_type, headers=headers)


def mount_dashboard(app: FastAPI, root: Path = WEB_DIR) -> None:
    """Serve the dashboard page at / and its files under /assets (outside the OpenAPI schema)."""
    assets = Assets(root)
    missing = Response("not found", status_code=404, media_type="text/plain")

    @app.get("/", include_in_schema=False)
    async def dashboard(request: Request) -> Response:
        page = assets.get("index.html")
        if page is None:
            return missing
        return respond(request, page, "no-cache")

    @app.get(ASSETS_URL + "/{path:path}", include_in_schema=False)
    async def asset(path: str, request: Request) -> Response:
        found = assets.get(path)
        if found is None or path == "index.html":
            return Response("not found", status_code=404, media_type="text/plain")
        return respond(request, found, "no-cache")
