"""Logins, sessions and users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, Response, status
from pydantic import AfterValidator

from tradewire.api.addresses import client_address
from tradewire.api.auth import CurrentCaller, CurrentUser, RuntimeDep, token_pair
from tradewire.api.fields import clean_text
from tradewire.api.retry_later import TOO_MANY_REQUESTS, RetryLater
from tradewire.api.schemas.auth import (
    PasswordChange,
    RefreshRequest,
    Token,
    TotpCode,
    TotpDisable,
    TotpEnrolment,
    UserCreate,
    UserOut,
)
from tradewire.domain.signin import SignInLocked, SignInRefused
from tradewire.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["auth"])

_BEARER = {"WWW-Authenticate": "Bearer"}


def _locked(runtime: Runtime, exc: SignInLocked) -> RetryLater:
    return RetryLater(str(exc), exc.retry_after_s, runtime.clock.now())


@router.post("/auth/token", response_model=Token, responses={401: {}, **TOO_MANY_REQUESTS})
async def login(
    request: Request,
    runtime: RuntimeDep,
    username: Annotated[str, AfterValidator(clean_text), Form(max_length=64)],
    password: Annotated[str, AfterValidator(clean_text), Form(max_length=256)],
    otp: Annotated[str | None, Form(max_length=10, description="two-factor code, when it is on")] = None,
) -> Token:
    """Exchange a username and password (form fields, OAuth2 password flow) for a short-lived bearer
    token and a refresh token; a user with two-factor sign-in on also sends `otp`, the code their
    authenticator app shows (each code works once). Repeated failures from an address or for an
    account make further attempts wait, then lock them for a while (429 with Retry-After, even for
    the right password)."""
    address = client_address(request, runtime.settings.trusted_proxies)
    try:
        opened = await runtime.signin.sign_in(username, password, address, otp)
    except SignInRefused as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc), headers=_BEARER) from exc
    except SignInLocked as exc:
        raise _locked(runtime, exc) from exc
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


@router.post("/auth/password", response_model=Token, responses={401: {}, 403: {}, **TOO_MANY_REQUESTS})
async def change_password(
    body: PasswordChange, caller: CurrentCaller, request: Request, runtime: RuntimeDep
) -> Token:
    """Change the password (the current one is needed; a wrong one counts as a failed sign-in): every
    session of the user is signed out, and the answer opens a new one. The new password needs
    `password_min_length` characters and must not be a common one (422)."""
    address = client_address(request, runtime.settings.trusted_proxies)
    try:
        opened = await runtime.signin.change_password(
            caller.user, body.current_password, body.new_password, address
        )
    except SignInRefused as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    except SignInLocked as exc:
        raise _locked(runtime, exc) from exc
    return Token(**token_pair(runtime, opened))


@router.post("/auth/totp", response_model=TotpEnrolment, status_code=201, responses={403: {}, 409: {}})
async def enrol_totp(user: CurrentUser, runtime: RuntimeDep) -> TotpEnrolment:
    """Start two-factor sign-in: a new secret, shown once (kept encrypted; the server needs
    TRADEWIRE_ENCRYPTION_KEY, else 403). It is on once confirmed with a code; until then sign-in is
    unchanged, and enrolling again replaces the secret. 409 while it is on."""
    enrolment = await runtime.signin.two_factor.enrol(user)
    return TotpEnrolment(secret=enrolment.secret, otpauth_uri=enrolment.uri)


@router.post("/auth/totp/confirm", status_code=204, response_class=Response, responses={422: {}})
async def confirm_totp(body: TotpCode, user: CurrentUser, runtime: RuntimeDep) -> Response:
    """Switch two-factor sign-in on with a code from the enrolled secret (422 when it is wrong)."""
    await runtime.signin.two_factor.confirm(user, body.code)
    return Response(status_code=204)


@router.post(
    "/auth/totp/disable", status_code=204, response_class=Response, responses={403: {}, **TOO_MANY_REQUESTS}
)
async def disable_totp(
    body: TotpDisable, caller: CurrentCaller, request: Request, runtime: RuntimeDep
) -> Response:
    """Switch two-factor sign-in off with the password and a code (403 when either is wrong; that
    counts as a failed sign-in)."""
    address = client_address(request, runtime.settings.trusted_proxies)
    try:
        await runtime.signin.disable_two_factor(caller.user, body.password, body.code, address)
    except SignInRefused as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    except SignInLocked as exc:
        raise _locked(runtime, exc) from exc
    return Response(status_code=204)


@router.post("/users", response_model=UserOut, status_code=201, responses={403: {}, 409: {}})
async def sign_up(body: UserCreate, runtime: RuntimeDep) -> UserOut:
    """Create a user, when the server allows sign-up (`signup_enabled`; otherwise 403 whatever the
    name, so the answer does not tell which names are taken). While sign-up is open a taken name
    answers 409: anyone can then find a name taken by trying to sign it up, which an open sign-up
    cannot avoid. The password needs `password_min_length` characters and must not be a common one
    (422)."""
    user = await runtime.marketplace.logins.sign_up(body.username, body.password)
    return UserOut(id=user.id, username=user.username, role=user.role)


@router.get("/me", response_model=UserOut)
async def me(user: CurrentUser) -> UserOut:
    """Who you are, and your role."""
    return UserOut(id=user.id, username=user.username, role=user.role)
