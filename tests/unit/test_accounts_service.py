"""Exchange accounts without a database: checks before anything is kept, keys sealed, ownership."""

from __future__ import annotations

import pytest

from tests.fakes.memory_members import desk
from tradewire.domain.members import AccountMode, Conflict, Invalid, NotFound
from tradewire.services.members.accounts import AccountRequest, UnknownExchange
from tradewire.services.members.strategies import StrategyRequest
from tradewire.services.members.subscriptions import SubscriptionRequest

LIVE = AccountRequest(
    name="main", exchange="binance", mode=AccountMode.LIVE, api_key="key-123", api_secret="secret-456"
)


async def test_a_live_account_with_an_unknown_exchange_id_is_refused_and_nothing_is_kept() -> None:
    d = desk()
    alice = d.user("alice")

    with pytest.raises(UnknownExchange, match="unknown exchange 'nosuchex'; ccxt ids such as binance"):
        await d.market.accounts.open(alice.id, AccountRequest("x", "nosuchex", AccountMode.LIVE, api_key="k"))

    assert d.members.accounts(alice.id) == []


async def test_a_live_account_needs_an_encryption_key_on_the_server() -> None:
    d = desk(sealing=False)
    alice = d.user("alice")

    with pytest.raises(Invalid, match="TRADEWIRE_ENCRYPTION_KEY"):
        await d.market.accounts.open(alice.id, LIVE)

    assert d.members.accounts(alice.id) == []


async def test_an_api_url_the_guard_refuses_is_invalid_with_its_reason_and_nothing_is_kept() -> None:
    d = desk()
    alice = d.user("alice")
    request = AccountRequest(
        "proxy",
        "binance",
        AccountMode.LIVE,
        api_key="k",
        api_secret="s",
        api_urls={"public": "https://169.254.169.254/x"},
    )

    with pytest.raises(Invalid, match=r"api_urls\['public'\]: not a public address"):
        await d.market.accounts.open(alice.id, request)

    assert d.members.accounts(alice.id) == []


async def test_live_keys_are_sealed_per_account_and_field_and_never_kept_in_clear() -> None:
    d = desk()
    alice = d.user("alice")

    account = await d.market.accounts.open(alice.id, LIVE)

    sealed = d.members.sealed(account.id)
    assert sealed is not None
    assert sealed.api_key == f"sealed(account:{account.id}:api_key):7"
    assert sealed.api_secret == f"sealed(account:{account.id}:api_secret):10"
    assert sealed.api_password is None  # not given: nothing sealed
    assert "key-123" not in repr(sealed) and "secret-456" not in repr(sealed)
    assert account.has_api_key and account.mode is AccountMode.LIVE and account.exchange == "binance"


async def test_a_paper_account_keeps_no_secrets() -> None:
    d = desk()
    alice = d.user("alice")

    account = await d.market.accounts.open(alice.id, AccountRequest("paper"))

    assert d.members.sealed(account.id) is None
    assert not account.has_api_key and account.mode is AccountMode.PAPER


async def test_another_users_account_is_not_found_to_read_or_delete() -> None:
    d = desk()
    alice, bob = d.user("alice"), d.user("bob")
    account = await d.market.accounts.open(alice.id, AccountRequest("paper"))

    with pytest.raises(NotFound, match=f"no exchange account {account.id}"):
        await d.market.accounts.get(bob.id, account.id)
    with pytest.raises(NotFound):
        await d.market.accounts.close(bob.id, account.id)

    assert await d.market.accounts.owned(bob.id) == []
    assert [a.id for a in await d.market.accounts.owned(alice.id)] == [account.id]
    assert d.guards.forgotten == []


async def test_closing_an_account_forgets_its_exchange_client_unless_it_still_has_subscriptions() -> None:
    d = desk()
    alice = d.user("alice")
    kept = await d.market.accounts.open(alice.id, AccountRequest("kept"))
    gone = await d.market.accounts.open(alice.id, AccountRequest("gone"))
    strategy = (await d.market.strategies.publish(alice.id, StrategyRequest("s"))).strategy
    await d.market.subscriptions.subscribe(alice.id, SubscriptionRequest(strategy.id, kept.id))

    with pytest.raises(Conflict, match="still has subscriptions"):
        await d.market.accounts.close(alice.id, kept.id)
    await d.market.accounts.close(alice.id, gone.id)

    assert d.guards.forgotten == [gone.id]
    assert [a.id for a in await d.market.accounts.owned(alice.id)] == [kept.id]


async def test_a_second_account_of_the_same_name_is_a_conflict() -> None:
    d = desk()
    alice = d.user("alice")
    await d.market.accounts.open(alice.id, AccountRequest("paper"))

    with pytest.raises(Conflict, match="you already have an account named 'paper'"):
        await d.market.accounts.open(alice.id, AccountRequest("paper"))


async def test_the_paper_account_is_the_first_paper_one_or_a_new_one_named_paper() -> None:
    d = desk()
    alice = d.user("alice")
    await d.market.accounts.open(alice.id, LIVE)

    created = await d.market.accounts.paper_account(alice.id)
    again = await d.market.accounts.paper_account(alice.id)

    account = await d.market.accounts.get(alice.id, created)
    assert again == created
    assert (account.name, account.exchange, account.mode) == ("paper", "paper", AccountMode.PAPER)
