"""Execution: decide each intent's order, store it, send it, record what the exchange says."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import InitVar, dataclass, field, replace
from decimal import Decimal
from typing import Protocol

from tradewire import failpoints
from tradewire.domain.client_ids import intent_client_order_id
from tradewire.domain.confirmation import drift_refusal
from tradewire.domain.execution import (
    OrderPlan,
    Skip,
    SpotSignal,
    SubscriptionStatus,
    plan_spot_order,
    split_into_tranches,
)
from tradewire.domain.exit_plan import ExitPlan
from tradewire.domain.money import ZERO, describe, is_storable
from tradewire.domain.orders import OrderSide, OrderType
from tradewire.domain.partitions import Partitions
from tradewire.domain.records import (
    Decisions,
    FailedAttempt,
    NewOrder,
    OrderRecord,
    Proposal,
    Rejection,
    RiskKeys,
    RiskSnapshot,
    WorkItem,
    WorkQuery,
)
from tradewire.domain.risk import (
    RiskContext,
    TradingState,
    assess_entry,
    assess_exit,
    drawdown_pct,
    risk_reward,
    verdicts,
)
from tradewire.domain.risk import summary as risk_summary
from tradewire.domain.risk_alerts import RiskAlert, entry_alerts, paused
from tradewire.domain.signals import SignalAction
from tradewire.domain.sizing import TradeStats
from tradewire.domain.work_checks import beyond_storage, signal_age_s, sizing_equity
from tradewire.ports import (
    Bus,
    Clock,
    Exchange,
    ExchangeDirectory,
    ExchangeError,
    ExchangeUnavailable,
    IntentStore,
    OrderStore,
    RiskReads,
)
from tradewire.services.confirmations import proposal_of
from tradewire.services.correlations import Correlations
from tradewire.services.holdings import account_equity
from tradewire.services.outcomes import record_outcomes
from tradewire.services.sending import send_all

log = logging.getLogger("tradewire.execution")

ORDERS_UPDATED = "orders.updated"

# An intent whose decision fails with an error this many times is marked failed with the reason
# (a sweep runs every 2 s: a passing fault such as a lost database connection heals long before).
ATTEMPTS_ALLOWED = 5
# An exit whose exchange does not answer (down, its circuit open, its market list not loaded after a
# restart) is not refused: it waits, decided again on every sweep (2 s), this many times (~1 hour).
EXIT_WAITS_ALLOWED = 1800


class ExchangeAway(Exception):
    """An exit cannot be decided now: its exchange does not answer (nothing was refused)."""


class ExecutionStore(IntentStore, RiskReads, OrderStore, Protocol):
    """What the executor needs of the store: pending intents and their decisions, the risk reads
    before entries, and the orders it sends and records."""


@dataclass(slots=True, eq=False)
class Executor:
    """Turns execution intents into orders, each sent at most once per client order id."""

    store: ExecutionStore
    exchanges: ExchangeDirectory
    bus: Bus
    clock: Clock
    page: int = 2000  # intents decided and stored per transaction
    correlations: InitVar[Correlations | None] = None  # None: from the exchanges' own candles
    _lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)
    _correlation: Correlations = field(init=False)

    def __post_init__(self, correlations: Correlations | None) -> None:
        self._correlation = correlations or Correlations(self.clock)

    async def execute_pending(
        self, signal_id: int | None = None, partitions: Partitions | None = None
    ) -> int:
        """Decide, store and send every intent still 'created'; returns how many orders were sent.

        Pages go forward by intent id, so an intent that fails (and stays 'created' until its last
        attempt) is tried once per call, and fails alone: its page is decided and sent all the same.
        An intent waits while an earlier order of its subscription's symbol has an unknown outcome
        (see _one_per_pair); once a pass has settled something, the waiting are looked at again."""
        sent = 0
        tried: set[int] = set()  # intents decided in this call (a failed one stays pending)
        async with self._lock:
            while True:
                passed, decided, waiting = await self._pass(signal_id, tried, partitions)
                sent += passed
                if not waiting or not decided:
                    return sent

    async def _pass(
        self, signal_id: int | None, tried: set[int], partitions: Partitions | None
    ) -> tuple[int, int, int]:
        """One pass over the pending intents not yet tried in this call: (orders sent, intents
        decided, intents left waiting)."""
        sent = decided = waiting = 0
        after = 0
        while True:
            query = WorkQuery(signal_id, after_id=after, limit=self.page, partitions=partitions)
            work, unreadable = await asyncio.to_thread(self.store.pending_work_page, query)
            if not work and not unreadable:
                break
            after = max([w.intent_id for w in work] + [u.intent_id for u in unreadable])
            fresh = [w for w in work if w.intent_id not in tried]
            ready = await self._one_per_pair(fresh) if fresh else []
            unread = [FailedAttempt(u.intent_id, u.reason, final=True) for u in unreadable]
            waiting += len(fresh) - len(ready)
            decided += len(ready) + len(unread)
            tried.update(w.intent_id for w in ready)
            if ready or unread:
                sent += await self._decide_and_send(ready, unread)
            if len(work) + len(unreadable) < self.page:
                break
        return sent, decided, waiting

    async def _decide_and_send(self, ready: Sequence[WorkItem], unread: list[FailedAttempt]) -> int:
        rejections, new_orders, failures, proposals, alerts = await self._decide(ready)
        records = await self._save(Decisions(rejections, new_orders, [*failures, *unread], proposals, alerts))
        failpoints.hit("after_orders_stored")
        for rejection in rejections:
            log.info(
                "intent %s (subscription %s) skipped: %s",
                rejection.item.intent_id,
                rejection.item.subscription_id,
                rejection.reason,
            )
        return await self._submit(records)

    async def _one_per_pair(self, work: Sequence[WorkItem]) -> list[WorkItem]:
        """The items that may be decided now: per (subscription, symbol), the earliest, and only while
        no earlier order of that pair has an unknown outcome (domain.orders.outcome_pending). The
        others wait (still pending) for a later pass: an exit decided now would be sized on the
        position before a buy still on its way, and a second entry on cash the first has not spent."""
        pairs = {(w.subscription_id, w.symbol) for w in work}
        busy = await asyncio.to_thread(self.store.outcomes_pending, pairs)
        ready: list[WorkItem] = []
        for item in sorted(work, key=lambda w: w.intent_id):
            pair = (item.subscription_id, item.symbol)
            if pair not in busy:
                ready.append(item)
            busy.add(pair)
        return ready

    async def _save(self, decisions: Decisions) -> list[OrderRecord]:
        """Store a page's decisions in one transaction; if that fails, each on its own, so a decision
        the database refuses (a number beyond its column, say) fails only its own intent."""
        now = self.clock.now()
        try:
            return await asyncio.to_thread(self.store.save_decisions, decisions, now)
        except Exception:
            log.exception("storing a page of decisions failed; storing them one by one")
        records: list[OrderRecord] = []
        if decisions.alerts:  # told once each, whatever became of the intents they came with
            try:
                await asyncio.to_thread(self.store.save_decisions, Decisions(alerts=decisions.alerts), now)
            except Exception:
                log.exception("risk alerts of a page could not be stored")
        singles: list[tuple[WorkItem | None, int, Decisions]] = [
            *((r.item, r.item.intent_id, Decisions(rejections=[r])) for r in decisions.rejections),
            *((o.item, o.item.intent_id, Decisions(new_orders=[o])) for o in decisions.new_orders),
            *((None, f.intent_id, Decisions(failures=[f])) for f in decisions.failures),
            *((p.item, p.item.intent_id, Decisions(proposals=[p])) for p in decisions.proposals),
        ]
        for item, intent_id, single in singles:
            try:
                records += await asyncio.to_thread(self.store.save_decisions, single, now)
            except Exception as exc:
                log.exception("intent %s: its decision could not be stored", intent_id)
                attempts = item.attempts if item is not None else ATTEMPTS_ALLOWED
                failure = _failure(intent_id, attempts, f"its decision could not be stored: {_error(exc)}")
                try:
                    await asyncio.to_thread(self.store.save_decisions, Decisions(failures=[failure]), now)
                except Exception:
                    log.exception("intent %s: the failure could not be stored either", intent_id)
        return sorted(records, key=lambda r: r.order_id)

    async def resume(self, records: Sequence[OrderRecord]) -> int:
        """Send NEW orders left by a crash; orders already SUBMITTED are looked up, never resent blind."""
        async with self._lock:
            return await self._submit([r for r in records if r.state.value == "new"])

    async def _decide(self, work: Sequence[WorkItem]) -> Decisions:
        """Each item's decision; an item whose decision raises fails alone (FailedAttempt)."""
        if not work:
            return Decisions()
        try:
            return await self._decide_page(work)
        except Exception as exc:
            if len(work) == 1:
                item = work[0]
                log.exception("intent %s: deciding it failed", item.intent_id)
                return Decisions(failures=[_failure(item.intent_id, item.attempts, _error(exc))])
            log.exception("deciding a page of %d intents failed; deciding them one by one", len(work))
        singles = [await self._decide([item]) for item in work]
        return Decisions(
            [r for d in singles for r in d.rejections],
            [o for d in singles for o in d.new_orders],
            [f for d in singles for f in d.failures],
            [p for d in singles for p in d.proposals],
            [a for d in singles for a in d.alerts],
        )

    async def _decide_page(self, work: Sequence[WorkItem]) -> Decisions:
        positions = await asyncio.to_thread(
            self.store.open_position_amounts, [(w.subscription_id, w.symbol) for w in work]
        )
        stats: dict[int, TradeStats] = {}
        for strategy_id in {w.strategy_id for w in work if w.sizing.needs_stats}:
            stats[strategy_id] = await asyncio.to_thread(self.store.strategy_stats, strategy_id)
        entries = [w for w in work if w.action is SignalAction.BUY]
        risk = RiskSnapshot()
        if entries:
            keys = RiskKeys(
                [w.account_id for w in entries],
                self.clock.now().date().isoformat(),
                [(w.subscription_id, w.symbol) for w in entries if w.risk.cooldown_s > 0],
                [(w.strategy_id, w.symbol) for w in entries],
            )
            risk = await asyncio.to_thread(self.store.risk_snapshot, keys)
        exits = [(w.subscription_id, w.symbol) for w in work if w.action is not SignalAction.BUY]
        in_flight = await asyncio.to_thread(self.store.exits_in_flight, exits) if exits else set()
        rejections: list[Rejection] = []
        new_orders: list[NewOrder] = []
        failures: list[FailedAttempt] = []
        proposals: list[Proposal] = []
        alerts: list[RiskAlert] = []
        for item in work:
            if (item.subscription_id, item.symbol) in in_flight:
                reason = (
                    "an automated exit of this position (stop loss, take profit, ...) is already in flight"
                )
                rejections.append(Rejection(item, reason))
                continue
            try:
                decision = await self._plan(
                    item,
                    positions.get((item.subscription_id, item.symbol), ZERO),
                    stats.get(item.strategy_id),
                    risk,
                    alerts,
                )
            except ExchangeAway as exc:
                log.info("intent %s: the exit waits: %s", item.intent_id, exc)
                failures.append(_waiting(item, str(exc)))
                continue
            except Exception as exc:
                log.exception(
                    "intent %s (subscription %s): deciding it failed", item.intent_id, item.subscription_id
                )
                failures.append(_failure(item.intent_id, item.attempts, _error(exc)))
                continue
            if isinstance(decision, Rejection):
                rejections.append(decision)
            elif isinstance(decision, Skip):
                rejections.append(Rejection(item, decision.reason, details=decision.details))
            elif item.awaits_confirmation:  # approved, but its owner says yes first
                proposals.append(proposal_of(item, decision, self.clock.now()))
            else:
                if decision.side is OrderSide.BUY:  # counted against the limits of the page's next entries
                    risk.opening(item.account_id, item.subscription_id, item.symbol)
                new_orders.append(
                    NewOrder(
                        item=item,
                        client_order_id=intent_client_order_id(item.intent_id),
                        side=decision.side,
                        type=decision.type,
                        amount=decision.amount,
                        price=decision.limit_price,
                        sizing_note=decision.sizing_note,
                        exit_plan=item.exit_plan(decision.later) if decision.side is OrderSide.BUY else None,
                        sizing_equity=decision.sizing_equity,
                    )
                )
        return Decisions(rejections, new_orders, failures, proposals, alerts)

    async def _plan(
        self,
        item: WorkItem,
        position_amount: Decimal,
        stats: TradeStats | None,
        risk: RiskSnapshot,
        alerts: list[RiskAlert],
    ) -> OrderPlan | Skip | Rejection:
        """The intent's order, or why it has none; what risk tells its owner goes to `alerts`."""
        if (
            item.action is not SignalAction.BUY
            and not (verdict := assess_exit(item.state, item.state_source)).approved
        ):
            return Skip(verdict.reason, details={"risk": verdict.as_json()})
        if item.action is SignalAction.BUY and item.subscription_status is not SubscriptionStatus.ACTIVE:
            # Paused or cancelled after the signal reached it (while its owner was asked to confirm,
            # say): no new entry. Its exits still go out.
            return Skip(f"the subscription is {item.subscription_status.value}: no new entries")
        if (beyond := beyond_storage(item)) is not None:
            return Skip(beyond)
        # An entry the exchange cannot be asked about is skipped; an exit waits (skipped, it would leave
        # the position open for good).
        away = item.action is not SignalAction.BUY
        try:
            exchange = self.exchanges.for_account(item.account_id, item.exchange, item.mode)
        except ExchangeUnavailable as exc:
            if away:
                raise ExchangeAway(str(exc)) from exc
            return Skip(str(exc))
        try:
            market = (await exchange.markets()).get(item.symbol)
        except (ExchangeUnavailable, ExchangeError) as exc:
            why = f"{item.exchange} markets could not be loaded: {exc}"
            if away and isinstance(exc, ExchangeUnavailable):
                raise ExchangeAway(why) from exc
            return Skip(why)
        if market is None:
            what = item.symbol or f"ticker {item.ticker!r} (no venue of this strategy lists it)"
            return Skip(f"{what} is not listed on {item.exchange}")
        try:
            price = await exchange.price(item.symbol) or item.signal_price
        except (ExchangeUnavailable, ExchangeError) as exc:
            why = f"no price for {item.symbol} from {item.exchange}: {exc}"
            if away and isinstance(exc, ExchangeUnavailable):
                raise ExchangeAway(why) from exc
            return Skip(why)
        if price is None:
            return Skip(f"no price for {item.symbol}: the exchange has none and the signal carries none")
        if not is_storable(price):
            return Skip(f"the signal's price {describe(price)} is beyond what can be stored or traded")
        if item.confirmed and (
            drift := drift_refusal(
                item.signal_price or item.proposal_price, price, item.confirmation.max_drift_pct
            )
        ):
            return Skip(drift)
        market_price = price
        signal = SpotSignal(item.action, item.contracts, item.market_position, item.exit_ratio)
        if item.action is not SignalAction.BUY:
            # Exits are market orders: a resting sell could leave the position open past its signal.
            return plan_spot_order(signal, item.sizing, market, price, position_amount, None, stats)
        limit = item.entry.limit_price(OrderSide.BUY, price, item.order_type, item.signal_price, market)
        if isinstance(limit, str):
            return Skip(limit)
        if limit is not None:
            price = limit.price  # sized, checked and risk-assessed at the price it may fill at
        plan_exits = item.exit_plan()
        stop = plan_exits.stop_at(price) if plan_exits else None
        sizing = item.sizing.with_stop(price, stop)
        try:
            balance = await exchange.fetch_balance()
            cash = balance.get(market.quote, ZERO)
            today = risk.realized_today.get(item.account_id, ZERO)
            # The quote balance alone is a lower bound of equity: when the size fits under its cap and
            # nothing is measured against equity, valuing every other asset would change nothing.
            if (
                sizing.fits_cap_of(cash, price, item.contracts)
                and today >= 0
                and item.pnl_total >= item.pnl_peak
            ):
                equity = cash
            else:
                equity = await account_equity(exchange, market.quote, balance)
        except (ExchangeUnavailable, ExchangeError) as exc:
            return Skip(f"account equity unavailable: {exc}")
        planned = plan_spot_order(signal, sizing, market, price, position_amount, equity, stats)
        if isinstance(planned, Skip):
            return planned
        context = await self._risk_context(item, exchange, risk, equity, price, planned, plan_exits)
        assessment = assess_entry(item.risk, context)
        alerts += entry_alerts(item, context, assessment, market.quote, self.clock.now().date().isoformat())
        if not assessment.approved:
            details = {"risk": assessment.as_json()}
            drawdown = context.drawdown_pct
            if assessment.failed("drawdown") and item.state is TradingState.ACTIVE and drawdown is not None:
                why = f"paused: subscription drawdown {drawdown:.1f}% reached {item.risk.drawdown_pause_pct}%"
                told = paused(item, drawdown, equity, market.quote, why)
                return Rejection(item, assessment.reason, details=details, pause_reason=why, paused=told)
            return Skip(assessment.reason, details=details)
        if item.dca is not None and position_amount <= 0:
            split = split_into_tranches(planned, item.dca, market)
            if isinstance(split, Skip):
                return split
            planned = split
        notes = [planned.sizing_note] if planned.sizing_note else []
        if limit is not None:
            notes.append(limit.note)
        notes.append(risk_summary(item.risk, context))
        notes.extend(f"warning: {w}" for w in assessment.warnings)
        # One copy of the plan with everything decided since (a replace per field costs ~1,000 × µs).
        return replace(
            planned,
            type=OrderType.LIMIT if limit is not None else planned.type,
            limit_price=limit.price if limit is not None else planned.limit_price,
            sizing_note="; ".join(notes),
            sizing_equity=sizing_equity(equity),
            verdicts=verdicts(item.risk, context) if item.awaits_confirmation else None,
            market_price=market_price,
        )

    async def _risk_context(
        self,
        item: WorkItem,
        exchange: Exchange,
        risk: RiskSnapshot,
        equity: Decimal,
        price: Decimal,
        planned: OrderPlan,
        plan_exits: ExitPlan | None,
    ) -> RiskContext:
        now = self.clock.now()
        last = risk.last_trade.get((item.subscription_id, item.symbol))
        pair = risk.pairs.get((item.strategy_id, item.symbol))
        open_symbols = risk.open_symbols.get(item.account_id, [])
        correlated: tuple[tuple[str, float], ...] = ()
        others = {s for s in open_symbols if s != item.symbol}
        if len(others) >= item.risk.max_correlated:  # fewer can never breach the limit
            correlated = await self._correlation.correlated(
                exchange, item.exchange, item.symbol, sorted(others), float(item.risk.correlation_threshold)
            )
        return RiskContext(
            open_positions_subscription=risk.per_subscription.get(item.subscription_id, 0),
            open_positions_account=risk.per_account.get(item.account_id, 0),
            realized_today=risk.realized_today.get(item.account_id, ZERO),
            equity=equity,
            signal_age_s=signal_age_s(item, now),
            notional=planned.amount * price,
            since_last_trade_s=(now - last).total_seconds() if last else None,
            drawdown_pct=drawdown_pct(item.pnl_peak, item.pnl_total, equity),
            strategy_drawdown_pct=item.strategy_drawdown_pct,
            correlated=correlated,
            risk_reward=risk_reward(True, price, plan_exits.stop_at(price), plan_exits.target_at(price))
            if plan_exits
            else None,
            state=item.state,
            state_source=item.state_source,
            blacklisted=pair.blocking(now) if pair else None,
        )

    async def _submit(self, records: Sequence[OrderRecord]) -> int:
        claimed = await asyncio.to_thread(
            self.store.claim_for_submission, [r.order_id for r in records], self.clock.now()
        )
        mine = [r for r in records if r.order_id in claimed]
        if not mine:
            return 0
        outcomes = await send_all(self.exchanges, mine)
        failpoints.hit("after_orders_sent")
        await record_outcomes(self.store, outcomes, self.clock.now())
        await self.bus.publish(ORDERS_UPDATED, {"order_ids": [r.order_id for r in mine]})
        return len(mine)


def _failure(intent_id: int, attempts: int, reason: str) -> FailedAttempt:
    tries = attempts + 1
    final = tries >= ATTEMPTS_ALLOWED
    text = f"failed {tries} times, not tried again; last: {reason}" if final else f"attempt {tries}: {reason}"
    return FailedAttempt(intent_id, text, final)


def _waiting(item: WorkItem, reason: str) -> FailedAttempt:
    """An exit whose exchange does not answer: tried again on the next sweep, up to a bound."""
    tries = item.attempts + 1
    if tries >= EXIT_WAITS_ALLOWED:
        text = f"failed: the exchange did not answer in {tries} tries, not tried again; last: {reason}"
        return FailedAttempt(item.intent_id, text, True)
    return FailedAttempt(item.intent_id, f"waiting for the exchange (try {tries}): {reason}", False)


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
