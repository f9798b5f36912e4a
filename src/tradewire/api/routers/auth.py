"""Logins and users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, status
from pydantic import AfterValidator

from tradewire.api.auth import CurrentUser, RuntimeDep, issue_token
from tradewire.api.fields import clean_text
from tradewire.api.schemas.auth import Token, UserCreate, UserOut

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.post("/auth/token", response_model=Token)
async def login(
    runtime: RuntimeDep,
    username: Annotated[str, AfterValidator(clean_text), Form(max_length=64)],
    password: Annotated[str, AfterValidator(clean_text), Form(max_length=256)],
) -> Token:
    """Exchange a username and password (form fields, OAuth2 password flow) for a bearer token."""
    user = await runtime.marketplace.logins.authenticate(username, password)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "wrong username or password", headers={"WWW-Authenticate": "Bearer"}
        )
    return Token(access_token=issue_token(runtime, user))


@router.post("/users", response_model=UserOut, status_code=201)
async def sign_up(body: UserCreate, runtime: RuntimeDep) -> UserOut:
    """Create a user (when sign-up is enabled)."""
    user = await runtime.marketplace.logins.sign_up(body.username, body.password)
    return UserOut(id=user.id, username=user.username)


@router.get("/me", response_model=UserOut)
async def me(user: CurrentUser) -> UserOut:
    return UserOut(id=user.id, username=user.username)
