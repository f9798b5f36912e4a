"""Bearer tokens: short-lived JWTs issued at login, and the user each request is made by."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer

from tradewire.domain.members import User
from tradewire.runtime import Runtime

ALGORITHM = "HS256"
oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(runtime_of)]


def issue_token(runtime: Runtime, user: User) -> str:
    now = runtime.clock.now()
    claims = {
        "sub": str(user.id),
        "name": user.username,
        "iat": now,
        "exp": now + timedelta(minutes=runtime.settings.jwt_ttl_minutes),
    }
    return jwt.encode(claims, runtime.jwt_secret, algorithm=ALGORITHM)


async def token_user(runtime: Runtime, token: str) -> User | None:
    """The user a token we issued names (None: not ours, expired, or its user is gone); requests and
    the WebSocket channel decode tokens here."""
    try:
        claims = jwt.decode(token, runtime.jwt_secret, algorithms=[ALGORITHM])
        user_id = int(claims["sub"])
    except (jwt.PyJWTError, KeyError, ValueError, TypeError):
        return None
    return await runtime.marketplace.logins.user(user_id)


async def current_user(runtime: RuntimeDep, token: Annotated[str | None, Depends(oauth2)]) -> User:
    unauthorized = HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="not authenticated: send 'Authorization: Bearer <token>' from POST /api/v1/auth/token",
        headers={"WWW-Authenticate": "Bearer"},
    )
    user = await token_user(runtime, token) if token else None
    if user is None:
        raise unauthorized
    return user


CurrentUser = Annotated[User, Depends(current_user)]
