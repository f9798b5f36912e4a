"""What the bot answers in a chat: `/start CODE` links it; a linked chat's commands read and change its
user's trading through the same use cases as the REST API (records, subscriptions, accounts,
valuations), so every rule of theirs holds here too. A chat that is not linked gets one short answer."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.members import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    SubscriptionChanges,
    Unavailable,
    User,
)
from tradewire.domain.money import fmt
from tradewire.domain.notices import clip, quote_of
from tradewire.domain.records import Page
from tradewire.domain.risk import TradingState
from tradewire.domain.telegram import (
    HELP,
    answered_text,
    cancel_data,
    close_data,
    db_id,
    outcome_line,
    parse_button,
    parse_command,
)
from tradewire.ports import Clock
from tradewire.ports.telegram import Button
from tradewire.services.confirmations import Confirmations
from tradewire.services.members.accounts import Accounts
from tradewire.services.members.logins import Logins
from tradewire.services.members.subscriptions import Subscriptions
from tradewire.services.records import Records
from tradewire.services.telegram.linking import Linking, TooManyAttempts
from tradewire.services.telegram.summaries import closed_since
from tradewire.services.valuation import BalanceUnavailable, Valuations

log = logging.getLogger("tradewire.telegram")

UNLINKED = (
    "This chat is not linked to a Tradewire user. "
    "Get a code (POST /api/v1/telegram/link) and send /start CODE."
)
DISABLED = "This Tradewire account is disabled: ask an admin."
MAX_PROFIT_DAYS = 3650
MAX_LISTED = 20  # positions, subscriptions, accounts in one answer


@dataclass(frozen=True, slots=True)
class Reply:
    """A message to send, with its buttons."""

    text: str
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True, slots=True)
class PressReply:
    """What a button press gets: a short notice on the user's screen, and the new text of the message
    the button was under, without its buttons (None: the message stays as it is)."""

    notice: str
    edit: str | None


@dataclass(slots=True, eq=False)
class ChatCommands:
    linking: Linking
    logins: Logins
    subscriptions: Subscriptions
    accounts: Accounts
    records: Records
    valuations: Valuations
    clock: Clock
    quote: str = "USDT"  # the currency accounts' equity is given in
    confirmations: Confirmations | None = None  # answers the Confirm and Decline buttons of questions

    async def handle(self, chat_id: int, text: str | None) -> Reply:
        """The answer to a message of the chat."""
        command = parse_command(text)
        if command.name == "start" and command.args:
            return await self._start(chat_id, command.args[0])
        user = await self._user(chat_id)
        if user is None:
            return Reply(UNLINKED)
        if user.disabled:  # as sign-in refuses it: nothing read or changed from here either
            return Reply(DISABLED)
        name, args = command.name, command.args
        try:
            if name in ("start", "help"):
                return Reply(HELP)
            if name == "status":
                return await self._status(user)
            if name == "positions":
                return await self._positions(user)
            if name == "profit":
                return await self._profit(user, args)
            if name == "balance":
                return await self._balance(user)
            if name == "close":
                return await self._close(user, args)
            if name in ("pause", "resume"):
                return await self._pause(user, args, name == "pause")
            if name == "halt":
                return await self._halt(user)
            if name == "unlink":
                await self.linking.unlink_chat(chat_id)
                return Reply("This chat is unlinked: no more notifications or commands here.")
        except (NotFound, Conflict, Invalid, Forbidden, Unavailable) as exc:
            return Reply(clip(str(exc) or type(exc).__name__))
        return Reply("Unknown command. /help lists them.")

    async def press(self, chat_id: int, data: str | None, text: str | None = None) -> PressReply:
        """A button of ours pressed in the chat (`text`: the message it is under): checked again
        (linked chat, the user's position or intent)."""
        parsed = parse_button(data)
        if parsed is None:
            return PressReply("This button is not valid.", None)
        user = await self._user(chat_id)
        if user is None:
            return PressReply("This chat is not linked.", UNLINKED)
        if user.disabled:
            return PressReply("This account is disabled.", DISABLED)
        action, position_id = parsed
        if action in ("ok", "no"):
            return await self._answer(user, position_id, action == "ok", text)
        if action == "keep":
            return PressReply("Kept.", f"Position #{position_id} kept open.")
        try:
            await self.records.close_position(user, position_id)
        except NotFound as exc:
            return PressReply("Not closed.", clip(f"Position #{position_id} not closed: {exc}"))
        except Conflict as exc:  # closed, closing (a second tap) or HALTED: the message stays as it is
            return PressReply(clip(f"Not closed: {exc}", 200), None)
        return PressReply("Closing.", f"Position #{position_id}: closing with a market order (MANUAL).")

    async def _answer(self, user: User, intent_id: int, confirm: bool, text: str | None) -> PressReply:
        """Confirm or decline a proposed entry, as POST /intents/{id}/confirm|decline does: one
        answer wins (a double tap, or an answer from the API at the same moment, gets a notice)."""
        if self.confirmations is None:
            return PressReply("Confirmation is not available.", None)
        try:
            if confirm:
                await self.confirmations.confirm(user, intent_id)
            else:
                await self.confirmations.decline(user, intent_id)
        except NotFound:
            return PressReply("Not found.", clip(f"Intent #{intent_id} is not one of yours."))
        except Conflict as exc:  # answered already, or expired: the message is edited when told so
            return PressReply(clip(str(exc), 200), None)
        line = outcome_line("confirmed" if confirm else "declined", {})
        question = text or f"Entry of intent #{intent_id}"
        return PressReply("Confirmed." if confirm else "Declined.", answered_text(question, line))

    async def _start(self, chat_id: int, code: str) -> Reply:
        try:
            user_id = await self.linking.link(chat_id, code)
        except TooManyAttempts as exc:
            return Reply(f"Too many attempts. Try again in {exc.retry_after_s} s.")
        if user_id is None:
            return Reply("That code is wrong, used or expired. Ask for a new one.")
        user = await self.logins.user(user_id)
        who = user.username if user is not None else f"user #{user_id}"
        return Reply(f"Linked to {who}. You will get your notifications here.\n\n{HELP}")

    async def _user(self, chat_id: int) -> User | None:
        user_id = await self.linking.user_of_chat(chat_id)
        return None if user_id is None else await self.logins.user(user_id)

    async def _status(self, user: User) -> Reply:
        owned = [
            s for s in await self.subscriptions.owned(user.id) if s.status is not SubscriptionStatus.CANCELLED
        ]
        if not owned:
            return Reply("No subscriptions.")
        lines = [
            f"#{s.id} {s.strategy_slug} on {s.account_name} ({s.mode.value}): {s.status.value}, "
            f"trading {s.trading_state.value}, PnL {_n(s.pnl_total)}"
            for s in owned[:MAX_LISTED]
        ]
        more = len(owned) - MAX_LISTED
        return Reply(
            clip("Subscriptions:\n" + "\n".join(lines) + (f"\n… and {more} more" if more > 0 else ""))
        )

    async def _positions(self, user: User) -> Reply:
        marked = await self.records.positions(user.id, "open", Page(MAX_LISTED + 1))
        if not marked:
            return Reply("No open positions.")
        lines = []
        for p in marked[:MAX_LISTED]:
            row, quote = p.row, quote_of(p.row["symbol"])
            pnl = "unknown" if p.unrealized_pnl is None else f"{_n(p.unrealized_pnl)} {quote}"
            price = "unknown" if p.price is None else _n(p.price)
            lines.append(
                f"#{row['id']} {row['symbol']} {_n(row['amount'])} @ {_n(row['avg_entry'])} {quote}, "
                f"now {price}, unrealised {pnl}"
            )
        more = "\n… and more (GET /api/v1/positions)" if len(marked) > MAX_LISTED else ""
        return Reply(clip("Open positions:\n" + "\n".join(lines) + more))

    async def _profit(self, user: User, args: tuple[str, ...]) -> Reply:
        days = 7
        if args:
            if not args[0].isascii() or not args[0].isdigit() or not 1 <= int(args[0][:5]) <= MAX_PROFIT_DAYS:
                return Reply(f"Usage: /profit [days], days 1 … {MAX_PROFIT_DAYS}.")
            days = int(args[0])
        closed = await closed_since(self.records, user.id, self.clock.now() - timedelta(days=days))
        if not closed:
            return Reply(f"No positions closed in the last {days} days.")
        lines = [
            f"{quote}: {count} closed, realised {_n(realised)}, fees {_n(fees)}, net {_n(realised - fees)}"
            for quote, (count, realised, fees) in sorted(closed.items())
        ]
        total = sum(count for count, _, _ in closed.values())
        return Reply(f"Closed in the last {days} days: {total} positions\n" + "\n".join(lines))

    async def _balance(self, user: User) -> Reply:
        accounts = await self.accounts.owned(user.id)
        if not accounts:
            return Reply("No exchange accounts.")

        async def one(account_id: int, exchange: str, mode: str, name: str) -> str:
            try:
                found = await self.valuations.balance(account_id, exchange, mode, self.quote)
            except BalanceUnavailable as exc:
                return f"#{account_id} {name}: unavailable ({exc})"
            assets = ", ".join(f"{a} {_n(b.total)}" for a, b in sorted(found.assets.items()) if b.total != 0)
            valuation = found.valuation
            unvalued = f" (not valued: {', '.join(sorted(valuation.unvalued))})" if valuation.unvalued else ""
            return (
                f"#{account_id} {name} ({mode}): equity {_n(valuation.equity)} {self.quote}{unvalued}; "
                f"{assets or 'no assets'}"
            )

        lines = await asyncio.gather(
            *(one(a.id, a.exchange, a.mode.value, a.name) for a in accounts[:MAX_LISTED])
        )
        return Reply(clip("Balances:\n" + "\n".join(lines)))

    async def _close(self, user: User, args: tuple[str, ...]) -> Reply:
        position_id = db_id(args[0]) if args else None
        if position_id is None:
            return Reply("Usage: /close ID (the position's id, from /positions).")
        position = await asyncio.to_thread(self.records.position_of, user.id, position_id)
        if position is None:
            return Reply(f"No position {position_id}.")
        if not position.is_open:
            return Reply(f"Position {position_id} is already closed.")
        quote = quote_of(position.symbol)
        return Reply(
            f"Close position #{position_id}: {_n(position.amount)} {position.symbol} bought at "
            f"{_n(position.avg_entry)} {quote}, with a market order?",
            (Button("Confirm close", close_data(position_id)), Button("Cancel", cancel_data(position_id))),
        )

    async def _pause(self, user: User, args: tuple[str, ...], paused: bool) -> Reply:
        subscription_id = db_id(args[0]) if args else None
        if subscription_id is None:
            return Reply(
                f"Usage: /{'pause' if paused else 'resume'} ID (the subscription's id, from /status)."
            )
        if paused:
            changes = SubscriptionChanges(status=SubscriptionStatus.PAUSED)
        else:
            # Resuming lifts what stopped its entries: a PAUSED status, and a trading state a drawdown
            # pause (REDUCING) or /halt (HALTED) set; the drawdown is measured afresh from then on.
            current = await self.subscriptions.get(user.id, subscription_id)
            state = None if current.trading_state is TradingState.ACTIVE else TradingState.ACTIVE
            changes = SubscriptionChanges(status=SubscriptionStatus.ACTIVE, trading_state=state)
        changed = await self.subscriptions.change(user, subscription_id, changes)
        return Reply(
            f"Subscription #{changed.id} ({changed.strategy_slug}) is {changed.status.value}, "
            f"trading {changed.trading_state.value}."
        )

    async def _halt(self, user: User) -> Reply:
        """Every subscription HALTED at once: no order of any kind (the emergency stop)."""
        halted = await self.subscriptions.halt_all(user)
        log.warning("user %s halted subscriptions %s from Telegram", user.id, halted)
        listed = ", ".join(f"#{i}" for i in halted[:MAX_LISTED]) + (" …" if len(halted) > MAX_LISTED else "")
        if not halted:
            return Reply("Nothing to halt: every subscription is HALTED or cancelled already.")
        until = "no orders at all until you /resume them"
        return Reply(clip(f"HALTED {len(halted)} subscriptions ({listed}): {until}."))


def _n(value: Decimal) -> str:
    """An exact decimal as plain text, as the API writes it (no exponent, no trailing zeros)."""
    return fmt(value) or "0"
