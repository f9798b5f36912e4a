"""Logins, sessions and users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import AfterValidator

from tradewire.api.addresses import client_address
from tradewire.api.audited import AuditDep
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
from tradewire.api.session_cookie import (
    clear_refresh_cookie,
    refresh_cookie,
    set_refresh_cookie,
    wants_cookie,
)
from tradewire.domain.audit import Action
from tradewire.domain.signin import RefreshReused, SignInLocked, SignInRefused
from tradewire.runtime import Runtime
from tradewire.services.signin import CODE_NEEDED, Opened

router = APIRouter(prefix="/api/v1", tags=["auth"])

_BEARER = {"WWW-Authenticate": "Bearer"}
# A sign-in refused for want of a two-factor code says so in a header too (the dashboard asks for it).
_CODE_NEEDED = {**_BEARER, "X-Tradewire-OTP": "required"}


def _answer(runtime: Runtime, opened: Opened, request: Request, response: Response) -> Token:
    """The token pair, its refresh token in the body, or in the cookie when the caller asks for it."""
    pair = token_pair(runtime, opened)
    if wants_cookie(request):
        set_refresh_cookie(response, request, runtime, pair["refresh_token"])
        pair["refresh_token"] = None
    return Token(**pair)


def _locked(runtime: Runtime, exc: SignInLocked) -> RetryLater:
    return RetryLater(str(exc), exc.retry_after_s, runtime.clock.now())


@router.post("/auth/token", response_model=Token, responses={401: {}, **TOO_MANY_REQUESTS})
async def login(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    audit: AuditDep,
    username: Annotated[str, AfterValidator(clean_text), Form(max_length=64)],
    password: Annotated[str, AfterValidator(clean_text), Form(max_length=256)],
    otp: Annotated[str | None, Form(max_length=10, description="two-factor code, when it is on")] = None,
) -> Token:
    """Exchange a username and password (form fields, OAuth2 password flow) for a short-lived bearer
    token and a refresh token; a user with two-factor sign-in on also sends `otp`, the code their
    authenticator app shows (each code works once). Repeated failures from an address or for an
    account make further attempts wait, then lock them for a while (429 with Retry-After, even for
    the right password); a missing code is answered 401 with `X-Tradewire-OTP: required`. With
    `X-Tradewire-Session: cookie` the refresh token is set as an HttpOnly, SameSite=Strict cookie for
    POST /auth/refresh instead of being in the body (null there): the dashboard signs in so."""
    address = client_address(request, runtime.settings.trusted_proxies)
    try:
        opened = await runtime.signin.sign_in(username, password, address, otp)
    except SignInRefused as exc:
        if str(exc) != CODE_NEEDED:  # a right password without its code is not a failure
            await audit.attempt(username, Action.SIGNIN_FAILED, {"reason": str(exc)})
        headers = _CODE_NEEDED if str(exc) == CODE_NEEDED else _BEARER
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc), headers=headers) from exc
    except SignInLocked as exc:
        await audit.attempt(username, Action.SIGNIN_LOCKED, {"retry_after_s": exc.retry_after_s})
        raise _locked(runtime, exc) from exc
    await audit.record(opened.user, Action.SIGNIN)
    return _answer(runtime, opened, request, response)


@router.post("/auth/refresh", response_model=Token, responses={401: {}, 403: {}})
async def refresh(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    audit: AuditDep,
    body: RefreshRequest | None = None,
) -> Token | JSONResponse:
    """A new access token and the next refresh token for a refresh token, which is used up. Using one
    a second time signs its session out (someone holds a copy). Without a body, the refresh token is
    the session cookie's, which needs `X-Tradewire-Session: cookie` (403 without it) and is replaced
    by the next one."""
    token = body.refresh_token if body is not None else refresh_cookie(request)
    try:
        opened = await runtime.signin.refresh(token)
    except SignInRefused as exc:
        if isinstance(exc, RefreshReused):  # a copy of the token exists: its owner's trail says so
            owner = await runtime.marketplace.logins.user(exc.user_id)
            if owner is not None:
                await audit.record(owner, Action.SESSION_REVOKED, detail={"reason": "refresh token reused"})
        if body is not None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc), headers=_BEARER) from exc
        refused = JSONResponse({"detail": str(exc)}, status_code=401, headers=_BEARER)
        clear_refresh_cookie(refused, request, runtime)  # a dead cookie is not sent again
        return refused
    return _answer(runtime, opened, request, response)


@router.post("/auth/logout", status_code=204, response_class=Response, responses={401: {}})
async def logout(caller: CurrentCaller, request: Request, runtime: RuntimeDep, audit: AuditDep) -> Response:
    """Sign out: the session's access and refresh tokens stop working at once (the session cookie, if
    any, is cleared)."""
    await runtime.signin.sign_out(caller.session_id)
    await audit.record(caller.user, Action.SIGNOUT)
    response = Response(status_code=204)
    clear_refresh_cookie(response, request, runtime)
    return response


@router.post("/auth/password", response_model=Token, responses={401: {}, 403: {}, **TOO_MANY_REQUESTS})
async def change_password(
    body: PasswordChange, caller: CurrentCaller, request: Request, runtime: RuntimeDep, audit: AuditDep
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
        await audit.record(caller.user, Action.PASSWORD_CHANGE_FAILED, detail={"reason": str(exc)})
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    except SignInLocked as exc:
        await audit.record(caller.user, Action.SIGNIN_LOCKED, detail={"retry_after_s": exc.retry_after_s})
        raise _locked(runtime, exc) from exc
    await audit.record(caller.user, Action.PASSWORD_CHANGED, detail={"sessions_revoked": True})
    return Token(**token_pair(runtime, opened))


@router.post("/auth/totp", response_model=TotpEnrolment, status_code=201, responses={403: {}, 409: {}})
async def enrol_totp(user: CurrentUser, runtime: RuntimeDep, audit: AuditDep) -> TotpEnrolment:
    """Start two-factor sign-in: a new secret, shown once (kept encrypted; the server needs
    TRADEWIRE_ENCRYPTION_KEY, else 403). It is on once confirmed with a code; until then sign-in is
    unchanged, and enrolling again replaces the secret. 409 while it is on."""
    enrolment = await runtime.signin.two_factor.enrol(user)
    await audit.record(user, Action.TOTP_ENROLLED)
    return TotpEnrolment(secret=enrolment.secret, otpauth_uri=enrolment.uri)


@router.post("/auth/totp/confirm", status_code=204, response_class=Response, responses={422: {}})
async def confirm_totp(body: TotpCode, user: CurrentUser, runtime: RuntimeDep, audit: AuditDep) -> Response:
    """Switch two-factor sign-in on with a code from the enrolled secret (422 when it is wrong)."""
    await runtime.signin.two_factor.confirm(user, body.code)
    await audit.record(user, Action.TOTP_ENABLED)
    return Response(status_code=204)


@router.post(
    "/auth/totp/disable", status_code=204, response_class=Response, responses={403: {}, **TOO_MANY_REQUESTS}
)
async def disable_totp(
    body: TotpDisable, caller: CurrentCaller, request: Request, runtime: RuntimeDep, audit: AuditDep
) -> Response:
    """Switch two-factor sign-in off with the password and a code (403 when either is wrong; that
    counts as a failed sign-in)."""
    address = client_address(request, runtime.settings.trusted_proxies)
    try:
        await runtime.signin.disable_two_factor(caller.user, body.password, body.code, address)
    except SignInRefused as exc:
        await audit.record(caller.user, Action.TOTP_DISABLE_FAILED)
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    except SignInLocked as exc:
        await audit.record(caller.user, Action.SIGNIN_LOCKED, detail={"retry_after_s": exc.retry_after_s})
        raise _locked(runtime, exc) from exc
    await audit.record(caller.user, Action.TOTP_DISABLED)
    return Response(status_code=204)


@router.post("/users", response_model=UserOut, status_code=201, responses={403: {}, 409: {}})
async def sign_up(body: UserCreate, runtime: RuntimeDep, audit: AuditDep) -> UserOut:
    """Create a user, when the server allows sign-up (`signup_enabled`; otherwise 403 whatever the
    name, so the answer does not tell which names are taken). While sign-up is open a taken name
    answers 409: anyone can then find a name taken by trying to sign it up, which an open sign-up
    cannot avoid. The password needs `password_min_length` characters and must not be a common one
    (422)."""
    user = await runtime.marketplace.logins.sign_up(body.username, body.password)
    await audit.record(user, Action.SIGNUP)
    return UserOut(id=user.id, username=user.username, role=user.role)


@router.get("/me", response_model=UserOut)
async def me(user: CurrentUser) -> UserOut:
    """Who you are, and your role."""
    return UserOut(id=user.id, username=user.username, role=user.role)
