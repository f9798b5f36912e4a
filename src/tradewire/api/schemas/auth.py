"""Logins and users."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from tradewire.api.schemas.common import Strict


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth2 token type, not a secret)


class UserCreate(Strict):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    password: str = Field(min_length=8, max_length=256, repr=False)


class UserOut(BaseModel):
    id: int
    username: str
