"""Over HTTP: security headers on every answer (the server's own error pages and CORS preflights too),
a Content-Security-Policy that lets /docs run its own inline script only, CORS only for configured
origins, and the documentation switched off."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_health_metrics_http import _http, _serve
from tests.support import ServedRuntime

ORIGIN = "https://app.example.com"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedRuntime]:
    served = _serve(tmp_path_factory.mktemp("ops"))

    async def boom() -> None:
        raise RuntimeError("a bug")

    served.server.config.app.add_api_route("/boom", boom)  # type: ignore[attr-defined]
    with served:
        yield served


# -- security headers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/health/live", None, 200),
        ("GET", "/api/v1/me", None, 401),
        ("GET", "/no-such-page", None, 404),
        ("POST", "/api/v1/users", b"{}", 422),
        ("POST", "/api/v1/users", b"x" * (2 * 1024 * 1024), 413),  # refused before routing
        ("GET", "/boom", None, 500),  # the server's own error page
        ("GET", "/docs-assets/swagger-ui.css", None, 200),
    ],
)
def test_every_answer_carries_the_security_headers(
    served: ServedRuntime, method: str, path: str, body: bytes | None, status: int
) -> None:
    response = _http(served).request(method, path, content=body)

    assert response.status_code == status
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["content-security-policy"].startswith("default-src 'none';")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "strict-transport-security" not in response.headers
    assert "access-control-allow-origin" not in response.headers


def test_the_docs_page_may_run_its_own_inline_script_and_nothing_else(served: ServedRuntime) -> None:
    page = _http(served).get("/docs")
    policy = page.headers["content-security-policy"]

    [script] = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}';" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert page.headers["x-frame-options"] == "DENY"


def test_strict_transport_security_is_sent_when_configured(tmp_path: Path) -> None:
    with _serve(tmp_path, hsts_max_age_s=31_536_000) as served:
        for path in ("/health/live", "/docs"):
            assert _http(served).get(path).headers["strict-transport-security"] == "max-age=31536000"


# -- CORS and the documentation switch -----------------------------------------------------------------


def test_without_configured_origins_no_cross_origin_call_is_allowed(served: ServedRuntime) -> None:
    preflight = _http(served).options(
        "/api/v1/me", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    )
    simple = _http(served).get("/health/live", headers={"Origin": ORIGIN})

    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in simple.headers


def test_configured_origins_and_only_those_may_call_the_api(tmp_path: Path) -> None:
    with _serve(tmp_path, cors_origins=[ORIGIN]) as served:
        http = _http(served)
        allowed = http.options(
            "/api/v1/me",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        other = http.options(
            "/api/v1/me", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
        )
        simple = http.get("/health/live", headers={"Origin": ORIGIN})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert allowed.headers["x-content-type-options"] == "nosniff"  # preflights get the headers too
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
    assert simple.headers["access-control-allow-origin"] == ORIGIN
    assert "access-control-allow-credentials" not in simple.headers  # bearer tokens, never cookies


def test_the_documentation_can_be_switched_off(tmp_path: Path) -> None:
    with _serve(tmp_path, docs_enabled=False) as served:
        http = _http(served)
        answers = {
            path: http.get(path).status_code
            for path in ("/docs", "/redoc", "/openapi.json", "/docs-assets/swagger-ui.css")
        }
        assert http.get("/health/live").status_code == 200

    assert answers == dict.fromkeys(answers, 404)
