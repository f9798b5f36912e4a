"""Exchange accounts and their balances."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from tradewire.api.fields import OneLine
from tradewire.api.schemas.common import Money, Strict
from tradewire.domain.members import AccountMode


class AccountCreate(Strict):
    name: Annotated[str, OneLine] = Field(min_length=1, max_length=64)
    exchange: str = Field(default="paper", min_length=2, max_length=32, pattern=r"^[a-z0-9]+$")
    mode: Literal[AccountMode.PAPER, AccountMode.LIVE] = AccountMode.PAPER
    sandbox: bool = False
    api_key: str | None = Field(default=None, max_length=512, repr=False)
    api_secret: str | None = Field(default=None, max_length=2048, repr=False)
    api_password: str | None = Field(default=None, max_length=512, repr=False)
    api_urls: dict[str, str] | None = Field(
        default=None,
        max_length=16,
        description="override ccxt's urls['api'] entries (a proxy); live accounts only; https (wss for "
        "'ws.' keys) to public hosts unless the server allows private addresses",
    )

    @field_validator("api_urls")
    @classmethod
    def _urls(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        for key, url in value.items():
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,31}(\.[A-Za-z][A-Za-z0-9-]{0,31}){0,3}", key):
                raise ValueError(f"api_urls key {key!r} is not a ccxt urls['api'] key (or 'ws.<key>')")
            scheme = "wss?" if key.startswith("ws") else "https?"
            if not re.fullmatch(scheme + r"://[^\s\x00-\x1f\x7f]{1,500}", url):
                raise ValueError(f"api_urls[{key!r}] must be a {scheme.rstrip('?')}(s) URL")
        return value

    @model_validator(mode="after")
    def _keys_match_mode(self) -> AccountCreate:
        if self.mode is AccountMode.LIVE and (not self.api_key or not self.api_secret):
            raise ValueError("a live account needs api_key and api_secret")
        if self.mode is AccountMode.PAPER and self.exchange != "paper":
            raise ValueError("paper accounts trade on the 'paper' exchange")
        if self.mode is AccountMode.LIVE and self.exchange == "paper":
            raise ValueError("a live account needs a real exchange id (binance, bybit, okx, ...)")
        if self.mode is AccountMode.PAPER and self.api_urls:
            raise ValueError("api_urls are for live accounts")
        return self


class AccountOut(BaseModel):
    id: int
    name: str
    exchange: str
    mode: str
    sandbox: bool
    api_urls: dict[str, str] | None = None
    has_api_key: bool
    created_at: datetime


class AssetBalanceOut(BaseModel):
    free: Money
    used: Money = Field(description="held by open orders")
    total: Money


class BalanceOut(BaseModel):
    account_id: int
    mode: str = AccountMode.PAPER
    exchange: str = "paper"
    balances: dict[str, Money] = Field(description="total per asset")
    assets: dict[str, AssetBalanceOut] = Field(default_factory=dict, description="free, used, total")
    equity: Money | None = Field(description="in `quote`: the assets valued at the account's own prices")
    quote: str
    values: dict[str, Money] = Field(default_factory=dict, description="each asset's value in `quote`")
    unvalued: dict[str, str] = Field(
        default_factory=dict, description="assets left out of equity (no price in `quote`), with why"
    )
    as_of: datetime | None = Field(default=None, description="when the exchange was asked (cached briefly)")
