"""Logins, sessions and users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Response, status
from pydantic import AfterValidator

from tradewire.api.auth import CurrentCaller, CurrentUser, RuntimeDep, token_pair
from tradewire.api.fields import clean_text
from tradewire.api.schemas.auth import PasswordChange, RefreshRequest, Token, UserCreate, UserOut
from tradewire.domain.signin import SignInRefused

router = APIRouter(prefix="/api/v1", tags=["auth"])

_BEARER = {"WWW-Authenticate": "Bearer"}


@router.post("/auth/token", response_model=Token, responses={401: {}})
async def login(
    runtime: RuntimeDep,
    username: Annotated[str, AfterValidator(clean_text), Form(max_length=64)],
    password: Annotated[str, AfterValidator(clean_text), Form(max_length=256)],
) -> Token:
    """Exchange a username and password (form fields, OAuth2 password flow) for a short-lived bearer
    token and a refresh token."""
    try:
        opened = await runtime.signin.sign_in(username, password)
    except SignInRefused as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc), headers=_BEARER) from exc
    return Token(**token_pair(runtime, opened))


@router.post("/auth/refresh", response_model=Token, responses={401: {}})
async def refresh(body: RefreshRequest, runtime: RuntimeDep) -> Token:
    """A new access token and the next refresh token for a refresh token, which is used up. Using one
    a second time signs its session out (someone holds a copy)."""
    try:
        opened = await runtime.signin.refresh(body.refresh_token)
    except SignInRefused as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc), headers=_BEARER) from exc
    return Token(**token_pair(runtime, opened))


@router.post("/auth/logout", status_code=204, response_class=Response, responses={401: {}})
async def logout(caller: CurrentCaller, runtime: RuntimeDep) -> Response:
    """Sign out: the session's access and refresh tokens stop working at once."""
    await runtime.signin.sign_out(caller.session_id)
    return Response(status_code=204)


@router.post("/auth/password", response_model=Token, responses={401: {}, 403: {}})
async def change_password(body: PasswordChange, caller: CurrentCaller, runtime: RuntimeDep) -> Token:
    """Change the password (the current one is needed): every session of the user is signed out, and
    the answer opens a new one."""
    try:
        opened = await runtime.signin.change_password(caller.user, body.current_password, body.new_password)
    except SignInRefused as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    return Token(**token_pair(runtime, opened))


@router.post("/users", response_model=UserOut, status_code=201)
async def sign_up(body: UserCreate, runtime: RuntimeDep) -> UserOut:
    """Create a user (when sign-up is enabled)."""
    user = await runtime.marketplace.logins.sign_up(body.username, body.password)
    return UserOut(id=user.id, username=user.username)


@router.get("/me", response_model=UserOut)
async def me(user: CurrentUser) -> UserOut:
    return UserOut(id=user.id, username=user.username)
