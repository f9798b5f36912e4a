"""Logins and users."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from tradewire.api.schemas.common import Strict
from tradewire.domain.members import Role


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth2 token type, not a secret)
    expires_in: int = Field(description="seconds the access token is valid for")
    refresh_token: str | None = Field(
        description="use once at POST /api/v1/auth/refresh for the next pair; null when it was set as the "
        "session cookie (X-Tradewire-Session: cookie)"
    )


class RefreshRequest(Strict):
    refresh_token: str = Field(min_length=1, max_length=128, repr=False)


class PasswordChange(Strict):
    current_password: str = Field(min_length=1, max_length=256, repr=False)
    new_password: str = Field(min_length=1, max_length=256, repr=False)


class UserCreate(Strict):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    password: str = Field(min_length=8, max_length=256, repr=False)


class UserOut(BaseModel):
    id: int
    username: str
    role: Role = Field(description="admin, provider or subscriber (README, Roles)")


TotpCodeText = Field(pattern=r"^[0-9]{6}$", description="the 6 digits the authenticator app shows now")


class TotpEnrolment(BaseModel):
    secret: str = Field(description="base32; shown once: put it in an authenticator app")
    otpauth_uri: str = Field(description="the same as an otpauth:// URI (for a QR code)")


class TotpCode(Strict):
    code: str = TotpCodeText


class TotpDisable(Strict):
    password: str = Field(min_length=1, max_length=256, repr=False)
    code: str = TotpCodeText
