"""The chat's commands without a database or a bot (services/telegram/commands.py): linking with a
code (wrong, used, too many tries), what an unlinked chat and a disabled user get, pausing, resuming
(which also lifts a halt or a drawdown pause) and halting through the subscriptions' own use case,
and buttons whose data we did not make."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any, cast

from tests.fakes.memory_members import Desk, desk
from tests.fakes.memory_telegram import MemoryTelegramLinks
from tradewire.adapters.rate_limits import RateLimits
from tradewire.domain.members import User
from tradewire.domain.risk import TradingState
from tradewire.domain.telegram import HELP
from tradewire.services.members.accounts import AccountRequest
from tradewire.services.members.strategies import StrategyRequest
from tradewire.services.members.subscriptions import SubscriptionRequest
from tradewire.services.telegram.commands import DISABLED, UNLINKED, ChatCommands
from tradewire.services.telegram.linking import LINK_TIER, Linking

CHAT, OTHER_CHAT = 700, 701


class Unused:
    """Records and valuations: the commands tested here never read them."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} was not expected to be used")


def _commands(d: Desk, links: MemoryTelegramLinks, attempts: str = "5/minute") -> ChatCommands:
    clock = d.market.logins.clock
    linking = Linking(links, clock, RateLimits({LINK_TIER: attempts}), code_ttl=timedelta(minutes=10))
    market = d.market
    unused = cast(Any, Unused())
    return ChatCommands(linking, market.logins, market.subscriptions, market.accounts, unused, unused, clock)


async def _subscribed(d: Desk, user: User) -> int:
    strategy = (await d.market.strategies.publish(user.id, StrategyRequest("S"))).strategy
    account = await d.market.accounts.open(user.id, AccountRequest("paper"))
    made = await d.market.subscriptions.subscribe(user.id, SubscriptionRequest(strategy.id, account.id))
    return made.id


async def _linked(commands: ChatCommands, user: User, chat: int = CHAT) -> None:
    code = await commands.linking.new_code(user.id)
    answer = await commands.handle(chat, f"/start {code.code}")
    assert answer.text.startswith(f"Linked to {user.username}.")


async def test_a_code_links_its_chat_once_and_other_chats_get_the_short_answer() -> None:
    d, links = desk(), MemoryTelegramLinks()
    alice = d.user("alice")
    commands = _commands(d, links)
    code = await commands.linking.new_code(alice.id)

    assert (await commands.handle(CHAT, "/status")).text == UNLINKED
    assert (await commands.handle(CHAT, f"/start {code.code}")).text.endswith(HELP)
    again = await commands.handle(OTHER_CHAT, f"/start {code.code}")
    assert again.text == "That code is wrong, used or expired. Ask for a new one."
    assert (await commands.handle(OTHER_CHAT, "/help")).text == UNLINKED
    assert (await commands.handle(CHAT, "/help")).text == HELP
    assert (await commands.handle(CHAT, "hello")).text == "Unknown command. /help lists them."


async def test_start_attempts_are_bounded_per_chat() -> None:
    d, links = desk(), MemoryTelegramLinks()
    alice = d.user("alice")
    commands = _commands(d, links, attempts="2/minute")
    code = await commands.linking.new_code(alice.id)

    wrong = [(await commands.handle(CHAT, "/start AAAAAAAAAA")).text for _ in range(2)]
    blocked = await commands.handle(CHAT, f"/start {code.code}")  # even the right code, for now

    assert wrong == ["That code is wrong, used or expired. Ask for a new one."] * 2
    assert blocked.text.startswith("Too many attempts. Try again in ")
    assert (await commands.handle(OTHER_CHAT, f"/start {code.code}")).text.startswith("Linked to alice.")


async def test_a_disabled_user_s_chat_reads_and_changes_nothing() -> None:
    d, links = desk(), MemoryTelegramLinks()
    alice = d.user("alice")
    subscription_id = await _subscribed(d, alice)
    commands = _commands(d, links)
    await _linked(commands, alice)
    d.members.users[alice.id] = replace(d.members.users[alice.id], disabled=True)

    assert (await commands.handle(CHAT, f"/pause {subscription_id}")).text == DISABLED
    assert (await commands.handle(CHAT, "/halt")).text == DISABLED
    pressed = await commands.press(CHAT, f"ok:{subscription_id}")
    assert (pressed.notice, pressed.edit) == ("This account is disabled.", DISABLED)
    assert (await d.market.subscriptions.get(alice.id, subscription_id)).trading_state is TradingState.ACTIVE


async def test_pause_resume_and_halt_go_through_the_subscriptions_use_case() -> None:
    d, links = desk(), MemoryTelegramLinks()
    alice, bob = d.user("alice"), d.user("bob")
    mine, theirs = await _subscribed(d, alice), await _subscribed(d, bob)
    commands = _commands(d, links)
    await _linked(commands, alice)

    paused = await commands.handle(CHAT, f"/pause {mine}")
    not_mine = await commands.handle(CHAT, f"/pause {theirs}")
    halted = await commands.handle(CHAT, "/halt")
    state_halted = (await d.market.subscriptions.get(alice.id, mine)).trading_state
    resumed = await commands.handle(CHAT, f"/resume {mine}")
    after = await d.market.subscriptions.get(alice.id, mine)

    slug = after.strategy_slug
    assert paused.text == f"Subscription #{mine} ({slug}) is PAUSED, trading ACTIVE."
    assert not_mine.text == f"no subscription {theirs}"
    assert halted.text == f"HALTED 1 subscriptions (#{mine}): no orders at all until you /resume them."
    assert state_halted is TradingState.HALTED
    assert resumed.text == f"Subscription #{mine} ({slug}) is ACTIVE, trading ACTIVE."
    assert (after.status.value, after.trading_state) == ("ACTIVE", TradingState.ACTIVE)
    assert (await d.market.subscriptions.get(bob.id, theirs)).status.value == "ACTIVE"
    for bad in ("/pause", "/pause x", "/pause -1", "/resume 99999999999999999999"):
        assert (await commands.handle(CHAT, bad)).text.startswith("Usage: /")


async def test_buttons_we_did_not_make_or_without_a_confirmation_service_change_nothing() -> None:
    d, links = desk(), MemoryTelegramLinks()
    alice = d.user("alice")
    commands = _commands(d, links)

    assert (await commands.press(CHAT, "ok:1")).notice == "This chat is not linked."
    await _linked(commands, alice)
    for data in (None, "", "x" * 65, "sell:1", "ok:0", "ok:-1", "ok:1.5", "close:abc"):
        refused = await commands.press(CHAT, data)
        assert (refused.notice, refused.edit) == ("This button is not valid.", None)
    no_service = await commands.press(CHAT, "ok:1", "❓ Confirm entry …")
    assert (no_service.notice, no_service.edit) == ("Confirmation is not available.", None)
