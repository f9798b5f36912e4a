"""The dashboard over HTTP: the page and its files come from this server (no CDN), gzip-compressed
and revalidated; its Content-Security-Policy allows no inline script or style; a path cannot leave
the dashboard's folder; the first load stays under 300 KB compressed. The browser session: the
refresh token in an HttpOnly, SameSite=Strict cookie scoped to the refresh path, spent only with the
session header (CSRF), while API clients keep the JSON form. And the portfolio's results."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.seeding import Seeded
from tests.support import PASSPHRASE, PASSWORD, ServedRuntime, make_runtime, pin_prices, seed_marketplace
from tradewire.api.dashboard import WEB_DIR
from tradewire.api.headers import DASHBOARD_POLICY

SESSION = {"X-Tradewire-Session": "cookie"}
FIRST_LOAD_LIMIT = 300 * 1024


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServedRuntime, Seeded]]:
    runtime = make_runtime(tmp_path_factory.mktemp("dashboard-http"))
    pin_prices(runtime, {"BTC/USDT": "60000"})
    seeded = seed_marketplace(runtime.engine, [{}])
    with ServedRuntime(runtime, free_port()) as server:
        yield server, seeded


@pytest.fixture
def http(served: tuple[ServedRuntime, Seeded]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[0].url, timeout=10) as client:
        yield client


def _sign_in(http: httpx.Client, headers: dict[str, str] | None = None) -> httpx.Response:
    return http.post(
        "/api/v1/auth/token", data={"username": "tv-test-sub1", "password": PASSWORD}, headers=headers
    )


# -- the page and its files ---------------------------------------------------------------------------


def test_the_page_runs_only_this_servers_scripts(http: httpx.Client) -> None:
    page = http.get("/")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert policy == DASHBOARD_POLICY
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "script-src 'self';" in policy and "connect-src 'self';" in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script>" not in page.text and " style=" not in page.text  # nothing inline
    for url in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert url.startswith(("/assets/", "#", "https://www.tradingview.com/")), url  # links, not loads


def test_assets_are_compressed_and_revalidated(http: httpx.Client) -> None:
    script = http.get("/assets/js/app.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["content-encoding"] == "gzip"
    assert "import" in script.text
    again = http.get("/assets/js/app.js", headers={"If-None-Match": script.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/assets/index.html",
        "/assets/../dashboard.py",
        "/assets/%2e%2e/dashboard.py",
        "/assets/..%2fdashboard.py",
        "/assets/js/../../api/app.py",
        "/assets/no-such.js",
        "/assets/.hidden.js",
        "/assets/js",
        "/assets/" + "a/" * 200 + "x.js",
    ],
)
def test_nothing_outside_the_dashboards_files_is_served(http: httpx.Client, path: str) -> None:
    response = http.get(path)

    assert response.status_code == 404
    assert "content-security-policy" in response.headers


def test_the_first_load_is_under_300_kb_compressed(http: httpx.Client) -> None:
    """Everything the page can load at start (its page, styles, every module and the chart library),
    as sent gzip-compressed."""
    files = sorted(
        str(p.relative_to(WEB_DIR))
        for p in WEB_DIR.rglob("*")
        if p.is_file() and p.suffix in {".js", ".mjs", ".css", ".svg"}
    )
    assert "vendor/lightweight-charts.mjs" in files, "make installs the chart library (npm ci in web/)"
    sizes = {"/": _sent_bytes(http, "/")} | {f"/assets/{f}": _sent_bytes(http, f"/assets/{f}") for f in files}
    total = sum(sizes.values())
    print(f"\nfirst load: {total / 1024:.1f} KB compressed in {len(sizes)} files")
    for path, size in sorted(sizes.items(), key=lambda item: -item[1])[:5]:
        print(f"  {size / 1024:7.1f} KB  {path}")
    assert total < FIRST_LOAD_LIMIT


def _sent_bytes(http: httpx.Client, path: str) -> int:
    with http.stream("GET", path, headers={"Accept-Encoding": "gzip"}) as response:
        assert response.status_code == 200, path
        return sum(len(chunk) for chunk in response.iter_raw())


# -- the browser session --------------------------------------------------------------------------------


def test_a_browser_sign_in_sets_the_refresh_token_as_a_strict_httponly_cookie(http: httpx.Client) -> None:
    signed_in = _sign_in(http, SESSION)

    assert signed_in.status_code == 200
    body = signed_in.json()
    assert body["refresh_token"] is None and body["access_token"]
    cookie = signed_in.headers["set-cookie"]
    assert cookie.startswith("tradewire_refresh=")
    attributes = {a.strip().split("=")[0].lower(): a.strip() for a in cookie.split(";")[1:]}
    assert attributes["path"] == "Path=/api/v1/auth/refresh"
    assert "httponly" in attributes and attributes["samesite"].lower() == "samesite=strict"
    assert "secure" not in attributes  # plain http here; behind TLS it is Secure (next test)
    token = http.cookies.get("tradewire_refresh")
    assert token

    renewed = http.post("/api/v1/auth/refresh", headers=SESSION)  # a reload: no body, the cookie
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["refresh_token"] is None
    assert http.cookies.get("tradewire_refresh") not in (None, token)  # rotated
    me = http.get("/api/v1/me", headers={"Authorization": f"Bearer {renewed.json()['access_token']}"})
    assert me.json()["username"] == "tv-test-sub1"


def test_the_cookie_alone_is_refused_without_the_session_header(http: httpx.Client) -> None:
    """What a cross-site form post would send: the cookie, no custom header. Nothing is spent."""
    _sign_in(http, SESSION)

    forged = http.post("/api/v1/auth/refresh")
    assert forged.status_code == 403
    assert "X-Tradewire-Session" in forged.json()["detail"]
    assert http.post("/api/v1/auth/refresh", headers=SESSION).status_code == 200  # still valid

    http.cookies.clear()
    assert http.post("/api/v1/auth/refresh", headers=SESSION).status_code == 401


def test_a_reused_cookie_ends_the_session_and_sign_out_clears_it(http: httpx.Client) -> None:
    _sign_in(http, SESSION)
    stolen = http.cookies["tradewire_refresh"]
    assert http.post("/api/v1/auth/refresh", headers=SESSION).status_code == 200

    replay = httpx.post(  # another client, holding a copy of the first cookie
        f"{str(http.base_url).rstrip('/')}/api/v1/auth/refresh",
        headers={**SESSION, "Cookie": f"tradewire_refresh={stolen}"},
    )
    assert replay.status_code == 401
    assert 'tradewire_refresh=""' in replay.headers["set-cookie"]  # cleared

    http.cookies.clear()
    access = _sign_in(http, SESSION).json()["access_token"]
    out = http.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {access}"})
    assert out.status_code == 204
    assert (
        "Max-Age=0" in out.headers["set-cookie"] and "Path=/api/v1/auth/refresh" in out.headers["set-cookie"]
    )
    assert http.post("/api/v1/auth/refresh", headers=SESSION).status_code == 401


def test_api_clients_keep_the_json_form(http: httpx.Client) -> None:
    signed_in = _sign_in(http)
    assert "set-cookie" not in signed_in.headers
    refresh = signed_in.json()["refresh_token"]
    assert refresh

    renewed = http.post("/api/v1/auth/refresh", json={"refresh_token": refresh})
    assert renewed.status_code == 200 and renewed.json()["refresh_token"]
    assert "set-cookie" not in renewed.headers


def test_behind_tls_the_cookie_is_secure(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path, hsts_max_age_s=3600)
    seed_marketplace(runtime.engine, [{}])
    with ServedRuntime(runtime, free_port()) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        cookie = _sign_in(http, SESSION).headers["set-cookie"]
    assert "Secure" in cookie.split("; ")


# -- the portfolio ---------------------------------------------------------------------------------------


def test_the_portfolio_counts_a_closed_position(
    served: tuple[ServedRuntime, Seeded], http: httpx.Client
) -> None:
    server, _ = served
    auth = server.token("tv-test-sub1")
    before = http.get("/api/v1/portfolio", headers=auth).json()
    for n, action in enumerate(["buy", "sell"]):
        body = {"passphrase": PASSPHRASE, "ticker": "BTCUSDT", "action": action, "id": f"p-{action}-{n}"}
        assert http.post("/api/v1/webhooks/tradingview/tv-test", json=body).status_code == 202
        server.settle()

    found = http.get("/api/v1/portfolio", headers=auth).json()

    [paper] = found["modes"]
    closed_before = before["modes"][0]["closed_positions"] if before["modes"] else 0
    assert (paper["mode"], paper["quote"]) == ("paper", "USDT")
    assert paper["closed_positions"] == closed_before + 1
    assert paper["pnl_total"] == paper["curve"][-1]["cumulative"]
    assert paper["pnl_today"].startswith("-")  # bought and sold at 60,000: the fees
    assert found["truncated"] is False
    assert http.get("/api/v1/portfolio").status_code == 401
    assert http.get("/api/v1/portfolio", params={"account_id": 0}, headers=auth).status_code == 422
    other = http.get("/api/v1/portfolio", params={"account_id": 999_999}, headers=auth).json()
    assert other["modes"] == []
