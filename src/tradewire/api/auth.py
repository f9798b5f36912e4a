"""Bearer tokens: short-lived JWTs naming their sign-in session, and the user each request is made by.

An access token carries `sub` (the user), `sid` (the session), `iat`, `exp` and `jti`; one missing any
of them is refused. It counts only while its session is alive: signing out or changing the password
ends it at once, not when it expires. Times are checked on the runtime's clock.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer

from tradewire.domain.members import User
from tradewire.runtime import Runtime
from tradewire.services.signin import Opened

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["sub", "sid", "iat", "exp", "jti"]
oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(runtime_of)]


def access_token(runtime: Runtime, user: User, session_id: str) -> str:
    """A token for `user` in session `session_id`, valid for `jwt_ttl_minutes`."""
    now = runtime.clock.now()
    claims = {
        "sub": str(user.id),
        "name": user.username,
        "sid": session_id,
        "iat": now,
        "exp": now + timedelta(minutes=runtime.settings.jwt_ttl_minutes),
        "jti": secrets.token_hex(12),
    }
    return jwt.encode(claims, runtime.jwt_secret, algorithm=ALGORITHM)


def issue_token(runtime: Runtime, user: User) -> str:
    """An access token in a new session of `user` (blocking; for scripts and tests: the API signs in
    through POST /api/v1/auth/token)."""
    opened = runtime.signin.open_session(user)
    return access_token(runtime, user, opened.session_id)


@dataclass(frozen=True, slots=True)
class Caller:
    """The user a request is made by, and the session its token belongs to."""

    user: User
    session_id: str


def token_claims(runtime: Runtime, token: str) -> dict[str, Any] | None:
    """The claims of a token we signed that has every required claim and has not expired; else None."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            runtime.jwt_secret,
            algorithms=[ALGORITHM],
            # exp and iat are checked below on the runtime's clock (the wall clock outside tests).
            options={"require": REQUIRED_CLAIMS, "verify_exp": False, "verify_iat": False},
        )
        expires = int(claims["exp"])
        int(claims["sub"])
    except (jwt.PyJWTError, KeyError, ValueError, TypeError):
        return None
    if not isinstance(claims["sid"], str) or runtime.clock.now().timestamp() >= expires:
        return None
    return claims


async def token_user(runtime: Runtime, token: str) -> User | None:
    """The user a token we issued names, while its session is alive (None: not ours, missing a claim,
    expired, signed out, or its user is gone); requests and the WebSocket channel decode tokens here."""
    claims = token_claims(runtime, token)
    if claims is None:
        return None
    return await runtime.signin.session_user(int(claims["sub"]), claims["sid"])


async def current_caller(
    request: Request, runtime: RuntimeDep, token: Annotated[str | None, Depends(oauth2)]
) -> Caller:
    """The signed-in caller of this request (401 otherwise), looked up once per request: the access
    check (api/access.py) finds it first and the handler's CurrentUser gets the same."""
    known = getattr(request.state, "caller", None)
    if isinstance(known, Caller):
        return known
    unauthorized = HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="not authenticated: send 'Authorization: Bearer <token>' from POST /api/v1/auth/token",
        headers={"WWW-Authenticate": "Bearer"},
    )
    claims = token_claims(runtime, token) if token else None
    if claims is None:
        raise unauthorized
    user = await runtime.signin.session_user(int(claims["sub"]), claims["sid"])
    if user is None:
        raise unauthorized
    caller = Caller(user, claims["sid"])
    request.state.caller = caller
    return caller


async def current_user(caller: Annotated[Caller, Depends(current_caller)]) -> User:
    return caller.user


CurrentCaller = Annotated[Caller, Depends(current_caller)]
CurrentUser = Annotated[User, Depends(current_user)]


def token_pair(runtime: Runtime, opened: Opened) -> dict[str, Any]:
    """What a sign-in or a refresh answers: a new access token and the session's next refresh token."""
    return {
        "access_token": access_token(runtime, opened.user, opened.session_id),
        "refresh_token": opened.refresh_token,
        "expires_in": runtime.settings.jwt_ttl_minutes * 60,
    }
