"""REST: logins, strategies, exchange accounts, subscriptions, and the trading records of each owner."""

from __future__ import annotations

import asyncio
import re
import secrets
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from pydantic import AfterValidator

from tradewire.adapters.live.addresses import AddressRefused, check_urls
from tradewire.adapters.passwords import hash_secret
from tradewire.adapters.store.members import Conflict, NotFound
from tradewire.api.auth import CurrentUser, RuntimeDep, authenticate, issue_token
from tradewire.api.fields import DbId, clean_text
from tradewire.api.schemas import (
    AccountCreate,
    AccountOut,
    AssetBalanceOut,
    BalanceOut,
    BotCreate,
    BotOut,
    BotUpdate,
    ExecutionLogOut,
    IntentOut,
    MarketOut,
    OrderOut,
    PairOut,
    PairOverride,
    PassphraseOut,
    PositionClose,
    PositionOut,
    SignalOut,
    StrategyCreate,
    StrategyCreated,
    StrategyOut,
    StrategyUpdate,
    SubscriptionCreate,
    SubscriptionOut,
    SubscriptionUpdate,
    Token,
    UserCreate,
    UserOut,
)
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.orders import OrderState
from tradewire.domain.positions import CloseReason
from tradewire.domain.risk import TradingState
from tradewire.domain.sizing import Sizing, SizingMode
from tradewire.domain.strategies.definition import BotSettings, StrategyDefinition
from tradewire.domain.track_record import PairRecord
from tradewire.ports import ExchangeError, ExchangeUnavailable
from tradewire.runtime import Runtime
from tradewire.services.valuation import BalanceUnavailable

router = APIRouter(prefix="/api/v1")
Limit = Annotated[int, Query(ge=1, le=1000)]
Before = Annotated[DbId | None, Query(description="page: only ids below this one")]


async def _db(fn: Any, *args: Any) -> Any:
    """Run a store call off the event loop; NotFound answers 404 and Conflict 409, with its message."""
    try:
        return await asyncio.to_thread(fn, *args)
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except Conflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


# -- auth and users -------------------------------------------------------------------------------


@router.post("/auth/token", response_model=Token, tags=["auth"])
async def login(
    runtime: RuntimeDep,
    username: Annotated[str, AfterValidator(clean_text), Form(max_length=64)],
    password: Annotated[str, AfterValidator(clean_text), Form(max_length=256)],
) -> Token:
    """Exchange a username and password (form fields, OAuth2 password flow) for a bearer token."""
    user = await authenticate(runtime, username, password)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "wrong username or password", headers={"WWW-Authenticate": "Bearer"}
        )
    return Token(access_token=issue_token(runtime, user))


@router.post("/users", response_model=UserOut, status_code=201, tags=["auth"])
async def sign_up(body: UserCreate, runtime: RuntimeDep) -> UserOut:
    """Create a user (when sign-up is enabled)."""
    if not runtime.settings.signup_enabled:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "sign-up is disabled on this server")
    password_hash = await asyncio.to_thread(hash_secret, body.password)
    user_id = await _db(runtime.members.create_user, body.username, password_hash, runtime.clock.now())
    return UserOut(id=user_id, username=body.username)


@router.get("/me", response_model=UserOut, tags=["auth"])
async def me(user: CurrentUser) -> UserOut:
    return UserOut(id=user.id, username=user.username)


# -- strategies -----------------------------------------------------------------------------------


def _webhook_url(request: Request, slug: str) -> str:
    return str(request.url_for("tradingview_alert", slug=slug))


@router.post("/strategies", response_model=StrategyCreated, status_code=201, tags=["strategies"])
async def create_strategy(
    body: StrategyCreate, request: Request, runtime: RuntimeDep, user: CurrentUser
) -> StrategyCreated:
    """Publish a strategy: a TradingView webhook (its passphrase is returned once and stored hashed),
    or with `definition` a built-in strategy the server runs on closed candles."""
    if body.definition is not None:
        _check_definition(runtime, body.definition)
    passphrase = body.passphrase or secrets.token_urlsafe(18)
    slug = body.slug or _slugify(body.name)
    values = {
        "owner_id": user.id,
        "slug": slug,
        "name": body.name,
        "description": body.description,
        "source": "tradingview" if body.definition is None else "indicator",
        "passphrase_hash": await asyncio.to_thread(hash_secret, passphrase),
        "is_public": body.is_public,
        "created_at": runtime.clock.now(),
        "definition": body.definition.model_dump(mode="json") if body.definition else None,
        "dedup_window_s": body.dedup_window_s,
    }
    strategy_id = await _db(runtime.members.create_strategy, values)
    data = await _db(runtime.members.strategy, user.id, strategy_id)
    if body.definition is not None:
        return StrategyCreated(**data)
    return StrategyCreated(**data, webhook_url=_webhook_url(request, slug), passphrase=passphrase)


def _check_definition(runtime: Runtime, definition: StrategyDefinition) -> None:
    if definition.candles_from == "paper":
        unknown = [s for s in definition.symbols if s not in runtime.catalog]
        if unknown:
            raise HTTPException(422, f"unknown pairs: {unknown}")


@router.get("/strategies", response_model=list[StrategyOut], tags=["strategies"])
async def list_strategies(request: Request, runtime: RuntimeDep, user: CurrentUser) -> list[StrategyOut]:
    """Your strategies and every public one (with its active subscriber count)."""
    rows = await _db(runtime.members.strategies_visible, user.id)
    return [_strategy_out(request, row) for row in rows]


@router.get("/strategies/{strategy_id}", response_model=StrategyOut, tags=["strategies"])
async def get_strategy(
    strategy_id: DbId, request: Request, runtime: RuntimeDep, user: CurrentUser
) -> StrategyOut:
    return _strategy_out(request, await _db(runtime.members.strategy, user.id, strategy_id))


@router.patch("/strategies/{strategy_id}", response_model=StrategyOut, tags=["strategies"])
async def update_strategy(
    strategy_id: DbId, body: StrategyUpdate, request: Request, runtime: RuntimeDep, user: CurrentUser
) -> StrategyOut:
    current = await _own_strategy(runtime, user.id, strategy_id)
    values = body.model_dump(exclude_none=True, mode="json")
    if not values:
        raise HTTPException(422, "nothing to change")
    if body.definition is not None:
        if current["source"] != "indicator":
            raise HTTPException(
                409, f"strategy {strategy_id} is a {current['source']} strategy, not a built-in one"
            )
        _check_definition(runtime, body.definition)
    await _db(runtime.members.update_strategy, user.id, strategy_id, values)
    return _strategy_out(request, await _db(runtime.members.strategy, user.id, strategy_id))


@router.post("/strategies/{strategy_id}/passphrase", response_model=PassphraseOut, tags=["strategies"])
async def rotate_passphrase(strategy_id: DbId, runtime: RuntimeDep, user: CurrentUser) -> PassphraseOut:
    """Replace the webhook passphrase; the old one stops working at once."""
    await _own_strategy(runtime, user.id, strategy_id)  # before spending a hash on it
    passphrase = secrets.token_urlsafe(18)
    await _db(
        runtime.members.set_strategy_passphrase,
        user.id,
        strategy_id,
        await asyncio.to_thread(hash_secret, passphrase),
    )
    return PassphraseOut(passphrase=passphrase)


@router.get("/strategies/{strategy_id}/pairs", response_model=list[PairOut], tags=["strategies"])
async def strategy_pairs(strategy_id: DbId, runtime: RuntimeDep, user: CurrentUser) -> list[PairOut]:
    """The strategy's own performance per pair (measured on its signals) and each pair's blacklist
    status: blacklisted after 5 consecutive losses or a return below -10 % over 3+ trades, reviewed
    weekly, whitelisted for 30 days when re-enabled."""
    now = runtime.clock.now()
    return [
        _pair_out(p.reviewed(now)) for p in await _db(runtime.members.strategy_pairs, user.id, strategy_id)
    ]


@router.put("/strategies/{strategy_id}/pairs", response_model=PairOut, tags=["strategies"])
async def override_pair(
    strategy_id: DbId, body: PairOverride, runtime: RuntimeDep, user: CurrentUser
) -> PairOut:
    """Blacklist a pair for your strategy, re-enable it (a 30-day whitelist), or hand it back to the
    automatic rules (NORMAL)."""
    await _own_strategy(runtime, user.id, strategy_id)
    if body.symbol not in runtime.catalog:
        raise HTTPException(422, f"unknown pair {body.symbol!r}")
    record = await _db(
        runtime.members.override_pair,
        user.id,
        strategy_id,
        body.symbol,
        body.status,
        user.username,
        runtime.clock.now(),
    )
    return _pair_out(record)


async def _own_strategy(runtime: Runtime, user_id: int, strategy_id: int) -> dict[str, Any]:
    """The user's own strategy, or 404: checked before anything else about the request, so another
    user's strategy (public or not) answers exactly like one that does not exist."""
    try:
        row: dict[str, Any] = await _db(runtime.members.strategy, user_id, strategy_id)
    except HTTPException:
        row = {"is_owner": False}
    if not row["is_owner"]:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no strategy {strategy_id} of yours")
    return row


def _pair_out(p: PairRecord) -> PairOut:
    return PairOut(
        symbol=p.symbol,
        trades=p.trades,
        wins=p.wins,
        win_rate_pct=p.win_rate_pct.quantize(Decimal("0.01")),
        return_pct=p.gross_return_pct.quantize(Decimal("0.0001")),
        consecutive_losses=p.consecutive_losses,
        open=p.open_entry is not None,
        status=p.status,
        status_reason=p.status_reason,
        status_until=p.status_until,
        manual=p.manual,
    )


def _strategy_out(request: Request, row: dict[str, Any]) -> StrategyOut:
    url = _webhook_url(request, row["slug"]) if row["is_owner"] and row["source"] == "tradingview" else None
    return StrategyOut(**row, webhook_url=url)


def _slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:48] or "strategy"
    return f"{slug}-{secrets.token_hex(3)}"


# -- exchange accounts ----------------------------------------------------------------------------


@router.post("/accounts", response_model=AccountOut, status_code=201, tags=["accounts"])
async def create_account(body: AccountCreate, runtime: RuntimeDep, user: CurrentUser) -> AccountOut:
    """Add an exchange account. API keys are encrypted at rest and never returned."""
    box = runtime.secret_box
    if body.mode == "live" and box is None:
        raise HTTPException(
            422,
            "live accounts need TRADEWIRE_ENCRYPTION_KEY set on the server to encrypt their API keys",
        )
    try:
        await check_urls(body.api_urls or {}, runtime.settings.allow_private_exchange_urls)
    except AddressRefused as exc:
        raise HTTPException(422, str(exc)) from exc
    values = {
        "user_id": user.id,
        "name": body.name,
        "exchange": body.exchange,
        "mode": body.mode,
        "sandbox": body.sandbox,
        "api_urls": body.api_urls,
        "created_at": runtime.clock.now(),
    }
    account_id = await _db(runtime.members.create_account, values)
    if body.mode == "live" and box is not None:
        fields = {"api_key": body.api_key, "api_secret": body.api_secret, "api_password": body.api_password}
        sealed = {
            f"{name}_enc": box.encrypt(value, f"account:{account_id}:{name}") if value else None
            for name, value in fields.items()
        }
        await _db(runtime.members.set_account_secrets, account_id, sealed)
    return AccountOut(**await _db(runtime.members.account, user.id, account_id))


@router.get("/accounts", response_model=list[AccountOut], tags=["accounts"])
async def list_accounts(runtime: RuntimeDep, user: CurrentUser) -> list[AccountOut]:
    return [AccountOut(**row) for row in await _db(runtime.members.accounts, user.id)]


@router.get("/accounts/{account_id}", response_model=AccountOut, tags=["accounts"])
async def get_account(account_id: DbId, runtime: RuntimeDep, user: CurrentUser) -> AccountOut:
    return AccountOut(**await _db(runtime.members.account, user.id, account_id))


@router.get("/accounts/{account_id}/balance", response_model=BalanceOut, tags=["accounts"])
async def account_balance(
    account_id: DbId,
    runtime: RuntimeDep,
    user: CurrentUser,
    quote: Annotated[
        str | None, Query(pattern=r"^[A-Z0-9]{1,16}$", description="equity currency (default USDT)")
    ] = None,
) -> BalanceOut:
    """Balances per asset (free, used, total) and equity in the quote currency, from the account's own
    exchange: the paper market, or the live exchange (asked at most every `balance_ttl_s`). Assets that
    cannot be valued are listed in `unvalued`. 503 when the exchange cannot be reached, 502 when it
    refuses (e.g. keys), 504 when it does not answer in time."""
    account = await _db(runtime.members.account, user.id, account_id)
    currency = quote or runtime.settings.paper_quote_currency
    try:
        found = await runtime.valuations.balance(account_id, account["exchange"], account["mode"], currency)
    except BalanceUnavailable as exc:
        code = 504 if exc.timed_out else 502 if exc.refused else 503
        raise HTTPException(code, str(exc)) from exc
    valuation = found.valuation
    return BalanceOut(
        account_id=account_id,
        mode=account["mode"],
        exchange=account["exchange"],
        balances={asset: b.total for asset, b in found.assets.items() if b.total != 0},
        assets={
            asset: AssetBalanceOut(free=b.free, used=b.used, total=b.total)
            for asset, b in found.assets.items()
        },
        equity=valuation.equity,
        quote=currency,
        values=valuation.values,
        unvalued=valuation.unvalued,
        as_of=found.as_of,
    )


@router.post("/accounts/{account_id}/sync", tags=["accounts"])
async def sync_account(account_id: DbId, runtime: RuntimeDep, user: CurrentUser) -> dict[str, int]:
    """Check every unsettled order of the account with its exchange now, instead of at the next check."""
    await _db(runtime.members.account, user.id, account_id)
    return {"checked": await runtime.reconciler.sync_account(account_id)}


@router.delete("/accounts/{account_id}", status_code=204, tags=["accounts"])
async def delete_account(account_id: DbId, runtime: RuntimeDep, user: CurrentUser) -> None:
    await _db(runtime.members.delete_account, user.id, account_id)
    runtime.exchanges.forget(account_id)


# -- subscriptions --------------------------------------------------------------------------------


@router.post("/subscriptions", response_model=SubscriptionOut, status_code=201, tags=["subscriptions"])
async def subscribe(body: SubscriptionCreate, runtime: RuntimeDep, user: CurrentUser) -> SubscriptionOut:
    """Subscribe one of your exchange accounts to a strategy (yours, or a public one)."""
    await _db(runtime.members.strategy, user.id, body.strategy_id)
    account = await _db(runtime.members.account, user.id, body.account_id)
    await _check_pairs(runtime, account, body.pairs)
    now = runtime.clock.now()
    values = {
        "user_id": user.id,
        "strategy_id": body.strategy_id,
        "account_id": body.account_id,
        "status": SubscriptionStatus.ACTIVE.value,
        "pairs": body.pairs,
        "sizing_mode": body.sizing_mode.value,
        "sizing_value": body.sizing_value,
        "sizing_params": body.sizing_params.domain().to_json() if body.sizing_params else None,
        "risk_limits": body.risk_limits.as_json() if body.risk_limits else None,
        "exit_rules": body.exit_rules.domain().as_json() if body.exit_rules else None,
        "dca": body.dca.domain().as_json() if body.dca else None,
        "entry_order": body.entry_order.domain().as_json() if body.entry_order else None,
        "created_at": now,
        "updated_at": now,
    }
    subscription_id = await _db(runtime.members.create_subscription, values)
    return SubscriptionOut(**await _db(runtime.members.subscription, user.id, subscription_id))


async def _check_pairs(runtime: Runtime, account: dict[str, Any], pairs: list[str] | None) -> None:
    """A pair filter names markets of the account's own venue (a live exchange lists its own)."""
    if not pairs:
        return
    if account["mode"] == "paper":
        listed: Any = runtime.venue.markets
    else:
        try:
            exchange = runtime.exchanges.for_account(account["id"], account["exchange"], "live")
            listed = await asyncio.wait_for(
                exchange.markets(), runtime.settings.exchange_timeout_ms / 1000 + 5
            )
        except (ExchangeUnavailable, ExchangeError, TimeoutError) as exc:
            raise HTTPException(
                503, f"cannot check the pairs: {account['exchange']} markets could not be loaded: {exc}"
            ) from exc
    unknown = [p for p in pairs if p not in listed]
    if unknown:
        raise HTTPException(422, f"unknown pairs on {account['exchange']}: {unknown}")


@router.get("/subscriptions", response_model=list[SubscriptionOut], tags=["subscriptions"])
async def list_subscriptions(runtime: RuntimeDep, user: CurrentUser) -> list[SubscriptionOut]:
    return [SubscriptionOut(**row) for row in await _db(runtime.members.subscriptions, user.id)]


@router.get("/subscriptions/{subscription_id}", response_model=SubscriptionOut, tags=["subscriptions"])
async def get_subscription(subscription_id: DbId, runtime: RuntimeDep, user: CurrentUser) -> SubscriptionOut:
    return SubscriptionOut(**await _db(runtime.members.subscription, user.id, subscription_id))


@router.patch("/subscriptions/{subscription_id}", response_model=SubscriptionOut, tags=["subscriptions"])
async def update_subscription(
    subscription_id: DbId, body: SubscriptionUpdate, runtime: RuntimeDep, user: CurrentUser
) -> SubscriptionOut:
    """Pause, resume or cancel; change the pair filter, the sizing, the risk, exit or entry settings."""
    current = await _db(runtime.members.subscription, user.id, subscription_id)  # yours, before all else
    values: dict[str, Any] = {}
    if body.status is not None:
        values["status"] = body.status
    if body.pairs is not None:
        current = await _db(runtime.members.subscription, user.id, subscription_id)
        account = await _db(runtime.members.account, user.id, current["account_id"])
        await _check_pairs(runtime, account, body.pairs)
        values["pairs"] = body.pairs
    if body.all_pairs:
        values["pairs"] = None
    if body.sizing_mode is not None:
        values.update(sizing_mode=body.sizing_mode.value, sizing_value=body.sizing_value)
    if body.sizing_params is not None:
        mode = body.sizing_mode or SizingMode(current["sizing_mode"])
        value = body.sizing_value or current["sizing_value"]
        try:
            Sizing(mode, value, body.sizing_params.domain())
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        values["sizing_params"] = body.sizing_params.domain().to_json()
    if body.risk_limits is not None:
        values["risk_limits"] = body.risk_limits.as_json()
    if body.exit_rules is not None:
        values["exit_rules"] = body.exit_rules.domain().as_json()
    if body.dca is not None and body.no_dca:
        raise HTTPException(422, "give either dca or no_dca, not both")
    if body.dca is not None:
        values["dca"] = body.dca.domain().as_json()
    if body.no_dca:
        values["dca"] = None
    if body.entry_order is not None:
        values["entry_order"] = body.entry_order.domain().as_json()
    if body.trading_state is not None:
        values["trading_state"] = body.trading_state.value
        values["state_reason"] = f"set to {body.trading_state.value} by {user.username}"
        if body.trading_state is TradingState.ACTIVE:
            values["reset_drawdown"] = True  # the drawdown is measured afresh from here
    if not values:
        raise HTTPException(422, "nothing to change")
    values["updated_at"] = runtime.clock.now()
    await _db(runtime.members.update_subscription, user.id, subscription_id, values)
    return SubscriptionOut(**await _db(runtime.members.subscription, user.id, subscription_id))


# -- bots -----------------------------------------------------------------------------------------


@router.post("/bots", response_model=BotOut, status_code=201, tags=["bots"])
async def create_bot(body: BotCreate, runtime: RuntimeDep, user: CurrentUser) -> BotOut:
    """A personal strategy the server runs for you, trading your paper account unless you name another."""
    account_id = body.account_id
    if account_id is not None:
        await _db(runtime.members.account, user.id, account_id)
    _check_definition(runtime, body.definition)
    if account_id is None:
        account_id = await _db(_paper_account, runtime, user.id)
    now = runtime.clock.now()
    strategy = {
        "owner_id": user.id,
        "slug": f"bot-{user.id}-{secrets.token_hex(4)}",
        "name": body.name,
        "description": "",
        "source": "bot",
        "passphrase_hash": await asyncio.to_thread(hash_secret, secrets.token_urlsafe(18)),
        "is_public": False,
        "created_at": now,
        "definition": body.definition.model_dump(mode="json"),
    }
    subscription = {
        "user_id": user.id,
        "account_id": account_id,
        "status": SubscriptionStatus.ACTIVE.value if body.definition.enabled else "PAUSED",
        "pairs": None,
        "sizing_mode": body.sizing_mode.value,
        "sizing_value": body.sizing_value,
        "risk_limits": body.risk_limits.as_json() if body.risk_limits else None,
        "exit_rules": body.exit_rules.domain().as_json() if body.exit_rules else None,
        "dca": body.dca.domain().as_json() if body.dca else None,
        "created_at": now,
        "updated_at": now,
    }
    bot_id, _ = await _db(runtime.members.create_bot, strategy, subscription)
    return _bot_out((await _db(runtime.members.bots, user.id, bot_id))[0])


@router.get("/bots", response_model=list[BotOut], tags=["bots"])
async def list_bots(runtime: RuntimeDep, user: CurrentUser) -> list[BotOut]:
    return [_bot_out(row) for row in await _db(runtime.members.bots, user.id)]


@router.get("/bots/{bot_id}", response_model=BotOut, tags=["bots"])
async def get_bot(bot_id: DbId, runtime: RuntimeDep, user: CurrentUser) -> BotOut:
    return _bot_out((await _db(runtime.members.bots, user.id, bot_id))[0])


@router.patch("/bots/{bot_id}", response_model=BotOut, tags=["bots"])
async def update_bot(bot_id: DbId, body: BotUpdate, runtime: RuntimeDep, user: CurrentUser) -> BotOut:
    """Change a bot's strategy, pairs, timeframe or rules; the server applies it on its next round."""
    [row] = await _db(runtime.members.bots, user.id, bot_id)
    _check_definition(runtime, body.definition)
    definition = body.definition
    if definition.bot is None:
        definition = definition.model_copy(update={"bot": BotSettings()})
    status = row["status"] if definition.enabled else "PAUSED"
    await _db(runtime.members.set_bot_running, user.id, bot_id, definition.model_dump(mode="json"), status)
    return _bot_out((await _db(runtime.members.bots, user.id, bot_id))[0])


@router.post("/bots/{bot_id}/start", response_model=BotOut, tags=["bots"])
async def start_bot(bot_id: DbId, runtime: RuntimeDep, user: CurrentUser) -> BotOut:
    return await _run_bot(runtime, user.id, bot_id, running=True)


@router.post("/bots/{bot_id}/stop", response_model=BotOut, tags=["bots"])
async def stop_bot(bot_id: DbId, runtime: RuntimeDep, user: CurrentUser) -> BotOut:
    """Stop evaluating the bot and pause its subscription; open positions keep their exits."""
    return await _run_bot(runtime, user.id, bot_id, running=False)


async def _run_bot(runtime: Runtime, user_id: int, bot_id: int, running: bool) -> BotOut:
    [row] = await _db(runtime.members.bots, user_id, bot_id)
    definition = {**row["definition"], "enabled": running}
    status = SubscriptionStatus.ACTIVE.value if running else SubscriptionStatus.PAUSED.value
    await _db(runtime.members.set_bot_running, user_id, bot_id, definition, status)
    return _bot_out((await _db(runtime.members.bots, user_id, bot_id))[0])


def _paper_account(runtime: Runtime, user_id: int) -> int:
    """The user's paper account (the first one, or a new one named 'paper')."""
    for account in runtime.members.accounts(user_id):
        if account["mode"] == "paper":
            return int(account["id"])
    values = {
        "user_id": user_id,
        "name": "paper",
        "exchange": "paper",
        "mode": "paper",
        "sandbox": False,
        "created_at": runtime.clock.now(),
    }
    return int(runtime.members.create_account(values))


def _bot_out(row: dict[str, Any]) -> BotOut:
    return BotOut(
        id=row["id"],
        name=row["name"],
        definition=row["definition"],
        running=bool(row["definition"].get("enabled", True))
        and row["status"] == SubscriptionStatus.ACTIVE.value,
        subscription_id=row["subscription_id"],
        account_id=row["account_id"],
        mode=row["mode"],
        created_at=row["created_at"],
    )


# -- trading records ------------------------------------------------------------------------------


@router.get("/signals", response_model=list[SignalOut], tags=["records"])
async def list_signals(
    runtime: RuntimeDep,
    user: CurrentUser,
    strategy_id: DbId | None = None,
    limit: Limit = 100,
    before_id: Before = None,
) -> list[SignalOut]:
    """Signals of your own strategies, newest first, with how many subscriptions each reached."""
    rows = await _db(runtime.reports.signals_of_provider, user.id, strategy_id, limit, before_id)
    return [SignalOut(**row) for row in rows]


@router.get("/intents", response_model=list[IntentOut], tags=["records"])
async def list_intents(
    runtime: RuntimeDep,
    user: CurrentUser,
    signal_id: DbId | None = None,
    limit: Limit = 100,
    before_id: Before = None,
) -> list[IntentOut]:
    """What each signal did on your subscriptions, and why (or why not)."""
    rows = await _db(runtime.reports.intents, user.id, signal_id, limit, before_id)
    return [IntentOut(**row) for row in rows]


@router.get("/orders", response_model=list[OrderOut], tags=["records"])
async def list_orders(
    runtime: RuntimeDep,
    user: CurrentUser,
    state: OrderState | None = None,
    limit: Limit = 100,
    before_id: Before = None,
) -> list[OrderOut]:
    rows = await _db(runtime.reports.orders, user.id, state, limit, before_id)
    return [OrderOut(**row) for row in rows]


@router.get("/positions", response_model=list[PositionOut], tags=["records"])
async def list_positions(
    runtime: RuntimeDep,
    user: CurrentUser,
    status_: Annotated[str | None, Query(alias="status", pattern="^(open|closed)$")] = None,
    limit: Limit = 100,
    before_id: Before = None,
) -> list[PositionOut]:
    """Positions with realised PnL, and unrealised PnL at the current price for open ones."""
    rows = await _db(runtime.reports.positions, user.id, status_, limit, before_id)
    marks = await runtime.valuations.marks(_mark_key(row) for row in rows if row["status"] == "open")
    result = []
    for row in rows:
        mark = marks.get(_mark_key(row))
        price = mark.price if mark else None
        unrealized = (price - row["avg_entry"]) * row["amount"] if price is not None else None
        result.append(
            PositionOut(
                **row,
                net_realized_pnl=row["realized_pnl"] - row["fees"],
                mark_price=price,
                unrealized_pnl=unrealized,
                mark_source=mark.source if mark else None,
                mark_error=mark.error if mark and price is None else None,
            )
        )
    return result


def _mark_key(row: dict[str, Any]) -> tuple[int, str, str, str]:
    """A position is marked by its own account's venue: the paper market, or its live exchange."""
    return (row["account_id"], row["exchange"], row["mode"], row["symbol"])


@router.post("/positions/{position_id}/close", response_model=PositionClose, tags=["records"])
async def close_position(position_id: DbId, runtime: RuntimeDep, user: CurrentUser) -> PositionClose:
    """Close an open position now with a market order (close reason MANUAL)."""
    position = await _db(runtime.store.watched_position, user.id, position_id)
    if position is None:
        raise HTTPException(404, f"no position {position_id}")
    if not position.is_open:
        raise HTTPException(409, f"position {position_id} is already closed")
    if position.state is TradingState.HALTED:
        raise HTTPException(
            409, "the subscription is HALTED: no orders at all; set it ACTIVE or REDUCING first"
        )
    sent = await runtime.monitor.close(position, CloseReason.MANUAL, f"closed by {user.username}")
    if not sent:
        raise HTTPException(409, f"an exit of position {position_id} is already in flight")
    return PositionClose(position_id=position_id, status="closing")


@router.get("/execution-log", response_model=list[ExecutionLogOut], tags=["records"])
async def list_execution_log(
    runtime: RuntimeDep,
    user: CurrentUser,
    intent_id: DbId | None = None,
    limit: Limit = 100,
    before_id: Before = None,
) -> list[ExecutionLogOut]:
    """Every execution attempt on your accounts: SUCCESS, FAILED, PARTIAL, SKIPPED or PENDING."""
    rows = await _db(runtime.reports.execution_log, user.id, intent_id, limit, before_id)
    return [ExecutionLogOut(**row) for row in rows]


@router.get("/markets", response_model=list[MarketOut], tags=["markets"])
async def list_markets(runtime: RuntimeDep) -> list[MarketOut]:
    """The paper exchange's markets, their current price and where that price comes from."""
    return [
        MarketOut(
            symbol=m.symbol,
            id=m.id,
            base=m.base,
            quote=m.quote,
            price=runtime.feed.last_price(m.symbol),
            price_source=runtime.feed.source(m.symbol),
            simulated=runtime.feed.is_simulated(m.symbol),
            amount_step=m.amount_step,
            price_step=m.price_step,
            min_cost=m.min_cost,
        )
        for m in runtime.venue.markets.values()
    ]
