"""Over HTTP: /docs and /redoc load only the server's own assets (they work offline), and those are
served; a headless browser then renders the Swagger UI with the API's operations."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, unavailable
from tests.support import ServedRuntime, make_runtime

_REFERENCE = re.compile(r"""(?:src|href|url)\s*[=:(]\s*['"]([^'"]+)['"]""")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedRuntime]:
    with ServedRuntime(make_runtime(tmp_path_factory.mktemp("docs")), free_port()) as served:
        yield served


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_documentation_pages_reference_only_assets_the_server_serves(
    served: ServedRuntime, page: str
) -> None:
    http = httpx.Client(base_url=served.url, timeout=10)
    html = http.get(page)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "://" not in html.text, "the page must not load anything from another host"

    references = _REFERENCE.findall(html.text)
    assets = [r for r in references if r != "/openapi.json"]
    assert assets and all(r.startswith("/docs-assets/") for r in assets), references
    for asset in assets:
        response = http.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 1000, asset
        kind = response.headers["content-type"]
        assert kind.split(";")[0] in {"text/javascript", "application/javascript", "text/css", "image/png"}
    assert http.get("/openapi.json").json()["info"]["title"] == "tradewire"


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_a_headless_browser_renders_the_swagger_ui(served: ServedRuntime, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        unavailable("no Chromium on this machine (Debian: apt-get install chromium; .ci/run installs it)")
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path}",
         "--virtual-time-budget=10000", "--dump-dom", f"{served.url}/docs"],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert 'class="swagger-ui' in dom  # Swagger UI mounted itself
    assert "/api/v1/webhooks/tradingview/{slug}" in dom  # and rendered the API's operations
    assert "opblock" in dom
