"""The browser's session: its refresh token in a cookie no script can read.

The dashboard keeps its access token in memory only and asks for the refresh token to be set as an
HttpOnly, SameSite=Strict cookie, Secure behind TLS, sent only to POST /api/v1/auth/refresh. A reload
then stays signed in without any token reachable from JavaScript. A request that sets or spends the
cookie must carry `X-Tradewire-Session: cookie`: a cross-site form cannot send a custom header, and a
cross-site script could only with a CORS preflight the server does not grant, so the cookie is of no
use to another site (CSRF) even where SameSite is not enforced. API clients keep the JSON form: without
the header the refresh token is in the answer's body, as before.
"""

from __future__ import annotations

from fastapi import HTTPException, Request, Response, status

from tradewire.runtime import Runtime

COOKIE = "tradewire_refresh"
HEADER = "X-Tradewire-Session"
HEADER_VALUE = "cookie"
REFRESH_PATH = "/api/v1/auth/refresh"
MAX_COOKIE_CHARS = 128  # a refresh token's bound (RefreshRequest)


def wants_cookie(request: Request) -> bool:
    """Whether the caller asked for (and may use) the refresh token as a cookie."""
    return request.headers.get(HEADER, "").strip().lower() == HEADER_VALUE


def _secure(request: Request, runtime: Runtime) -> bool:
    return request.url.scheme == "https" or runtime.settings.hsts_max_age_s > 0


def _path(request: Request) -> str:
    return str(request.scope.get("root_path", "")) + REFRESH_PATH


def set_refresh_cookie(response: Response, request: Request, runtime: Runtime, token: str) -> None:
    """Put `token` in the refresh cookie (its life: the refresh token's)."""
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(runtime.settings.refresh_token_days * 86_400),
        path=_path(request),
        secure=_secure(request, runtime),
        httponly=True,
        samesite="strict",
    )


def clear_refresh_cookie(response: Response, request: Request, runtime: Runtime) -> None:
    response.delete_cookie(
        COOKIE, path=_path(request), secure=_secure(request, runtime), httponly=True, samesite="strict"
    )


def refresh_cookie(request: Request) -> str:
    """The refresh token of the cookie, for a request that carries the session header (403 without
    it: a cookie alone proves nothing about who sent the request); 401 without a usable cookie."""
    if not wants_cookie(request):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"send the refresh token in the body, or the cookie with '{HEADER}: {HEADER_VALUE}'",
        )
    token = request.cookies.get(COOKIE, "")
    if not token or len(token) > MAX_COOKIE_CHARS:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "no session cookie: sign in again",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token
