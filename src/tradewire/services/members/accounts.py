"""Exchange accounts: open one (keys sealed at rest), read them, close one."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from tradewire.domain.members import Account, AccountMode, Invalid, NewAccount, SealedSecrets
from tradewire.ports import AccountGuards, Clock, Members


class UnknownExchange(Invalid):
    """The exchange id names no venue the server can trade on."""


@dataclass(frozen=True, slots=True)
class AccountRequest:
    """An account as its owner asks for it (already checked for shape at the edge)."""

    name: str
    exchange: str = "paper"
    mode: AccountMode = AccountMode.PAPER
    sandbox: bool = False
    api_key: str | None = field(default=None, repr=False)
    api_secret: str | None = field(default=None, repr=False)
    api_password: str | None = field(default=None, repr=False)
    api_urls: Mapping[str, str] | None = None


@dataclass(slots=True, eq=False)
class Accounts:
    """A user's exchange accounts; API keys are encrypted before they are kept and never read back."""

    members: Members
    guards: AccountGuards
    clock: Clock

    async def open(self, user_id: int, request: AccountRequest) -> Account:
        live = request.mode is AccountMode.LIVE
        if live and not self.guards.is_exchange_id(request.exchange):
            raise UnknownExchange(
                f"unknown exchange {request.exchange!r}; ccxt ids such as binance, bybit, okx"
            )
        if live and not self.guards.can_seal():
            raise Invalid(
                "live accounts need TRADEWIRE_ENCRYPTION_KEY set on the server to encrypt their API keys"
            )
        try:
            await self.guards.check_urls(request.api_urls or {})
        except ValueError as exc:
            raise Invalid(str(exc)) from exc
        new = NewAccount(
            user_id,
            request.name,
            request.exchange,
            request.mode,
            request.sandbox,
            request.api_urls,
            self.clock.now(),
        )
        account_id = await asyncio.to_thread(self.members.add_account, new)
        if live:
            sealed = SealedSecrets(
                self._seal(account_id, "api_key", request.api_key),
                self._seal(account_id, "api_secret", request.api_secret),
                self._seal(account_id, "api_password", request.api_password),
            )
            await asyncio.to_thread(self.members.seal_account, account_id, sealed)
        return await self.get(user_id, account_id)

    def _seal(self, account_id: int, name: str, value: str | None) -> str | None:
        return self.guards.seal(value, f"account:{account_id}:{name}") if value else None

    async def owned(self, user_id: int) -> list[Account]:
        return await asyncio.to_thread(self.members.accounts, user_id)

    async def get(self, user_id: int, account_id: int) -> Account:
        """One of the user's accounts (NotFound for another user's)."""
        return await asyncio.to_thread(self.members.account, user_id, account_id)

    async def close(self, user_id: int, account_id: int) -> None:
        """Delete an account without live subscriptions (Conflict while it has some)."""
        await asyncio.to_thread(self.members.delete_account, user_id, account_id)
        self.guards.forget(account_id)

    async def paper_account(self, user_id: int) -> int:
        """The user's paper account (the first one, or a new one named 'paper')."""
        for account in await self.owned(user_id):
            if account.mode is AccountMode.PAPER:
                return account.id
        new = NewAccount(user_id, "paper", "paper", AccountMode.PAPER, False, None, self.clock.now())
        return await asyncio.to_thread(self.members.add_account, new)
