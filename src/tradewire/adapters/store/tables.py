"""The schema, as SQLAlchemy Core tables. Alembic migrations (migrations/versions) create it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from tradewire.adapters.store.types import Money, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

# BigInteger ids that are still SQLite rowids (INTEGER PRIMARY KEY) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")


def _id() -> Column[int]:
    return Column("id", Id, primary_key=True, autoincrement=True)


def _ref(name: str, table: str, ondelete: str = "CASCADE", **kwargs: Any) -> Column[int]:
    """A column holding the id of a row of `table`; deleting that row deletes this one (CASCADE) or
    clears the column (SET NULL)."""
    return Column(name, Id, ForeignKey(f"{table}.id", ondelete=ondelete), **kwargs)


# The unsettled orders (domain.orders: not in TERMINAL_STATES), as SQL text: the partial index below and
# the queries that should use it say exactly the same (SQLite uses a partial index only then).
UNSETTLED_ORDERS = "state IN ('new', 'submitted', 'open', 'partially_filled')"


def _partial_index(name: str, *columns: str, where: str, unique: bool = False) -> Index:
    """An index of the rows matching `where` only, on PostgreSQL and SQLite alike."""
    return Index(name, *columns, unique=unique, postgresql_where=text(where), sqlite_where=text(where))


users = Table(
    "users",
    metadata,
    _id(),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("role", String(16), nullable=False, server_default="provider"),  # domain.members.Role
    Column("disabled_at", UTCDateTime()),  # set: no sign-in, no new entries, no webhooks
)

exchange_accounts = Table(
    "exchange_accounts",
    metadata,
    _id(),
    _ref("user_id", "users", nullable=False, index=True),
    Column("name", String(64), nullable=False),
    Column("exchange", String(32), nullable=False),
    Column("mode", String(8), nullable=False),  # paper | live
    Column("sandbox", Boolean, nullable=False, default=False),
    Column("api_key_enc", Text),
    Column("api_secret_enc", Text),
    Column("api_password_enc", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("api_urls", JSON),  # overrides of ccxt's urls['api'][key], e.g. a proxy or a local endpoint
    UniqueConstraint("user_id", "name", name="uq_exchange_accounts_user_name"),
)

strategies = Table(
    "strategies",
    metadata,
    _id(),
    _ref("owner_id", "users", nullable=False, index=True),
    Column("slug", String(64), nullable=False, unique=True),
    Column("name", String(128), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("source", String(32), nullable=False),  # tradingview | indicator | ml | ai
    Column("passphrase_hash", String(255), nullable=False),
    Column("is_public", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime(), nullable=False),
    # The strategy's own compounded track record (StrategyCurve), from its signals.
    Column("track_index", Money(), nullable=False, server_default="1"),
    Column("track_peak", Money(), nullable=False, server_default="1"),
    # An indicator strategy's recipe (the live signal runner and backtests read it); null for webhooks:
    # {"builtin": name, "params": {...}, "timeframe": "5m", "symbols": [...], "confirmation": {...}|null}
    Column("definition", JSON),
    # Webhook alerts without a time of their own are duplicates of an identical alert stored at most
    # this many seconds earlier (exact, sliding; see SqlStore.insert_signal_in_window).
    Column("dedup_window_s", Integer, nullable=False, server_default="60"),
)

# The strategy's results per pair from its own signals, and the pair's blacklist status (PairRecord).
strategy_pairs = Table(
    "strategy_pairs",
    metadata,
    _ref("strategy_id", "strategies", primary_key=True),
    Column("symbol", String(32), primary_key=True),
    Column("trades", Integer, nullable=False),
    Column("wins", Integer, nullable=False),
    Column("gross_return_pct", Money(), nullable=False),
    Column("window_trades", Integer, nullable=False),
    Column("window_return_pct", Money(), nullable=False),
    Column("consecutive_losses", Integer, nullable=False),
    Column("open_entry", Money()),
    Column("status", String(16), nullable=False),
    Column("status_reason", Text),
    Column("status_until", UTCDateTime()),
    Column("manual", Boolean, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    _id(),
    _ref("user_id", "users", nullable=False, index=True),
    _ref("strategy_id", "strategies", nullable=False),
    _ref("account_id", "exchange_accounts", nullable=False),
    Column("status", String(16), nullable=False),  # ACTIVE | PAUSED | CANCELLED
    Column("pairs", JSON),  # null: every pair; else a list of unified symbols
    Column("sizing_mode", String(16), nullable=False),  # fixed_quote | equity_pct | signal
    Column("sizing_value", Money(), nullable=False),
    Column("sizing_params", JSON),  # SizingParams: cap, stop distance, Kelly fallback; null = defaults
    Column("risk_limits", JSON),  # RiskLimits for new entries; null = defaults
    Column("exit_rules", JSON),  # ExitRules: stop loss, take profit, trailing stop, time limit
    Column("trading_state", String(16), nullable=False, server_default="ACTIVE"),  # TradingState
    Column("state_reason", Text),  # why the state last changed (e.g. the drawdown that paused it)
    Column("pnl_total", Money(), nullable=False, server_default="0"),  # net realised, all time
    Column("pnl_peak", Money(), nullable=False, server_default="0"),  # highest pnl_total: drawdown base
    Column("dca", JSON),  # DcaPlan: entries split into tranches; null = one entry
    Column("entry_order", JSON),  # EntryOrder: market or limit entries, limit timeout; null = defaults
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # Confirm before trade (domain/confirmation.TradeConfirmation): none | api | dashboard | telegram.
    Column("confirmation", String(16), nullable=False, server_default="none"),
    Column("confirmation_timeout_s", Integer, nullable=False, server_default="300"),
    Column("max_confirm_drift_pct", Money(), nullable=False, server_default="1"),
    UniqueConstraint("strategy_id", "account_id", name="uq_subscriptions_strategy_account"),
    Index("ix_subscriptions_strategy_status", "strategy_id", "status"),
)

signals = Table(
    "signals",
    metadata,
    _id(),
    _ref("strategy_id", "strategies", nullable=False),
    Column("dedup_key", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # received | routed | failed (routing kept failing)
    Column("action", String(8), nullable=False),
    Column("ticker", String(64), nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("contracts", Money()),
    Column("price", Money()),
    Column("signal_time", UTCDateTime()),
    Column("details", JSON, nullable=False),  # the parsed alert, never the passphrase
    Column("received_at", UTCDateTime(), nullable=False),
    Column("routed_at", UTCDateTime()),
    Column("attempts", Integer, nullable=False, server_default="0"),  # routing attempts that failed
    Column("reason", Text),  # why routing failed (the last error)
    # The alert's content without its passphrase, for the duplicate window of alerts without a time.
    Column("content_key", String(64)),
    UniqueConstraint("strategy_id", "dedup_key", name="uq_signals_strategy_dedup"),
    Index("ix_signals_strategy_received", "strategy_id", "received_at"),
    Index("ix_signals_strategy_content", "strategy_id", "content_key", "received_at"),
    _partial_index("ix_signals_unrouted", "status", where="status = 'received'"),
)

execution_intents = Table(
    "execution_intents",
    metadata,
    _id(),
    _ref("signal_id", "signals", nullable=False),
    _ref("subscription_id", "subscriptions", nullable=False),
    _ref("account_id", "exchange_accounts", nullable=False),
    _ref("user_id", "users", nullable=False),
    # domain.execution.IntentStatus ('awaiting_confirmation' is 21 characters: SQLite does not enforce
    # a length, and widening it there would mean rebuilding the table under its foreign keys).
    Column("status", String(32).with_variant(String(16), "sqlite"), nullable=False),
    Column("reason", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),  # decisions that failed with an error
    # Confirm before trade: what the owner is asked (JSON), until when, and when they said yes.
    Column("proposal", JSON),
    Column("confirm_by", UTCDateTime()),
    Column("confirmed_at", UTCDateTime()),
    UniqueConstraint("signal_id", "subscription_id", name="uq_execution_intents_signal_subscription"),
    _partial_index("ix_execution_intents_pending", "status", where="status = 'created'"),
    _partial_index("ix_execution_intents_awaiting", "confirm_by", where="status = 'awaiting_confirmation'"),
    Index("ix_execution_intents_user", "user_id", "id"),
)

orders = Table(
    "orders",
    metadata,
    _id(),
    _ref("intent_id", "execution_intents", ondelete="SET NULL", unique=True),
    _ref("account_id", "exchange_accounts", nullable=False),
    _ref("subscription_id", "subscriptions", ondelete="SET NULL"),
    _ref("user_id", "users", nullable=False),
    Column("mode", String(8), nullable=False),
    Column("client_order_id", String(36), nullable=False, unique=True),
    Column("exchange_order_id", String(64)),
    Column("symbol", String(32), nullable=False),
    Column("side", String(4), nullable=False),
    Column("type", String(8), nullable=False),
    Column("amount", Money(), nullable=False),
    Column("price", Money()),
    Column("state", String(20), nullable=False),
    Column("filled", Money(), nullable=False),
    Column("average", Money()),
    Column("fee", Money(), nullable=False),
    Column("fee_currency", String(16)),
    Column("reason", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("next_check_at", UTCDateTime()),  # null once terminal
    Column("sizing_note", Text),  # how the amount was reached, for the execution log
    Column("sizing_equity", Money()),  # the account equity (quote) an entry was sized against
    Column("check_attempts", Integer, nullable=False, default=0),
    # Orders the platform placed itself (stop loss, take profit, ...): the position and the reason.
    _ref("position_id", "positions", ondelete="SET NULL"),
    Column("close_reason", String(16)),
    Column("exit_plan", JSON),  # an entry's ExitPlan: the rules and levels its position will keep
    Column("tranche", Integer),  # a DCA tranche bought by the platform: its number (2 ... n)
    # Checks for late fills done since the order was last seen canceled or expired (or filled late).
    Column("late_checks", Integer, nullable=False, server_default="0"),
    # Who decided a rejected order is rejected (RejectionKind): the exchange, we before sending, or
    # we concluding it lost; only a lost one is looked up again. Null: not rejected, or from before.
    Column("rejection", String(16)),
    _partial_index("ix_orders_due", "next_check_at", where="next_check_at IS NOT NULL"),
    Index("ix_orders_user", "user_id", "id"),
    # The few orders not settled yet, by subscription and symbol: before deciding an intent the
    # executor asks whether an earlier order of the pair is still on its way (RiskReads.outcomes_pending).
    _partial_index("ix_orders_unsettled", "subscription_id", "symbol", where=UNSETTLED_ORDERS),
)

fills = Table(
    "fills",
    metadata,
    _id(),
    _ref("order_id", "orders", nullable=False),
    _ref("account_id", "exchange_accounts", nullable=False),
    Column("trade_id", String(64), nullable=False),
    Column("amount", Money(), nullable=False),
    Column("price", Money(), nullable=False),
    Column("fee", Money(), nullable=False),
    Column("fee_currency", String(16), nullable=False),
    Column("executed_at", UTCDateTime(), nullable=False),
    UniqueConstraint("order_id", "trade_id", name="uq_fills_order_trade"),
    Index("ix_fills_account_time", "account_id", "executed_at", "id"),  # an account's fills in time order
)

positions = Table(
    "positions",
    metadata,
    _id(),
    _ref("account_id", "exchange_accounts", nullable=False),
    _ref("subscription_id", "subscriptions", ondelete="SET NULL"),
    _ref("user_id", "users", nullable=False),
    Column("mode", String(8), nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("side", String(8), nullable=False),
    Column("status", String(8), nullable=False),
    Column("amount", Money(), nullable=False),
    Column("avg_entry", Money(), nullable=False),
    Column("cost_basis", Money(), nullable=False),
    Column("realized_pnl", Money(), nullable=False),
    Column("fees", Money(), nullable=False),
    Column("close_reason", String(16)),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime()),
    Column("updated_at", UTCDateTime(), nullable=False),
    # Exit automation: absolute levels (null: none), the best price since entry, the time limit.
    Column("stop_loss", Money()),
    Column("take_profit", Money()),
    Column("trailing_pct", Money()),
    Column("trailing_activation_pct", Money()),
    Column("best_price", Money()),
    Column("deadline_at", UTCDateTime()),
    Column("phase", String(12), nullable=False, server_default="OPEN"),  # PositionPhase
    Column(
        "tranches", JSON(none_as_null=True)
    ),  # DCA: the plan, the first fill and the tranches still to buy
    # One open position per subscription and symbol.
    _partial_index("uq_positions_open", "subscription_id", "symbol", where="status = 'open'", unique=True),
    Index("ix_positions_user", "user_id", "status"),
    Index("ix_positions_account_status", "account_id", "status"),
    Index("ix_positions_subscription_symbol", "subscription_id", "symbol", "updated_at"),
    Index("ix_positions_updated", "updated_at"),  # the exit monitor follows changes since its last look
)

# Net realised results per account and UTC day: the daily loss limit reads one row.
account_daily_pnl = Table(
    "account_daily_pnl",
    metadata,
    _ref("account_id", "exchange_accounts", primary_key=True),
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD, UTC
    Column("pnl", Money(), nullable=False),
)

# Risk alerts told once (domain/risk_alerts.py): a daily loss limit reached per account and UTC day,
# a drawdown warning per subscription and peak. A row says the alert's event was written.
risk_notices = Table(
    "risk_notices",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("subject_id", BigInteger, primary_key=True),  # the account's or the subscription's id
    Column("period", String(80), primary_key=True),  # the UTC day, or the peak (a decimal's text)
    _ref("user_id", "users", nullable=False, index=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

execution_log = Table(
    "execution_log",
    metadata,
    _id(),
    _ref("intent_id", "execution_intents"),
    _ref("signal_id", "signals"),
    _ref("subscription_id", "subscriptions", ondelete="SET NULL"),
    _ref("account_id", "exchange_accounts"),
    _ref("user_id", "users"),
    _ref("order_id", "orders", ondelete="SET NULL"),
    Column("status", String(8), nullable=False),  # SUCCESS | FAILED | PARTIAL | SKIPPED
    Column("reason", Text, nullable=False),
    Column("exchange_response", JSON),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_execution_log_intent", "intent_id"),
    Index("ix_execution_log_user", "user_id", "id"),
)

# The paper exchange's own books: a simulated venue, kept apart from our view of the orders.
paper_balances = Table(
    "paper_balances",
    metadata,
    _ref("account_id", "exchange_accounts", primary_key=True),
    Column("asset", String(16), primary_key=True),
    Column("free", Money(), nullable=False),
    Column("used", Money(), nullable=False),
)

paper_orders = Table(
    "paper_orders",
    metadata,
    _id(),
    _ref("account_id", "exchange_accounts", nullable=False),
    Column("client_order_id", String(36), nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("side", String(4), nullable=False),
    Column("type", String(8), nullable=False),
    Column("amount", Money(), nullable=False),
    Column("price", Money()),
    Column("status", String(16), nullable=False),  # open | closed | canceled | rejected
    Column("filled", Money(), nullable=False),
    Column("average", Money()),
    Column("fee", Money(), nullable=False),
    Column("fee_currency", String(16), nullable=False),
    Column("reason", Text),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    UniqueConstraint("account_id", "client_order_id", name="uq_paper_orders_account_client"),
    _partial_index("ix_paper_orders_open", "status", where="status = 'open'"),
)

# The paper market's current prices, written by the process that runs it (a worker) for the others
# (API processes) to show and value with: one row per symbol, overwritten every step.
paper_prices = Table(
    "paper_prices",
    metadata,
    Column("symbol", String(32), primary_key=True),
    Column("price", Money(), nullable=False),
    Column("source", String(200), nullable=False, server_default=""),  # e.g. live:binance
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Backtests run by the server for a user: the request, its progress, and the result once done.
backtests = Table(
    "backtests",
    metadata,
    _id(),
    _ref("user_id", "users", nullable=False),
    _ref("strategy_id", "strategies", ondelete="SET NULL"),  # filed under it
    Column("strategy_name", String(64), nullable=False),  # the built-in that ran
    Column("params", JSON, nullable=False),  # its parameters
    Column("config", JSON, nullable=False),  # capital, costs, stake, exit rules, window, confirmation
    Column("symbols", JSON, nullable=False),  # unified symbols
    Column("timeframe", String(8), nullable=False),
    Column("status", String(8), nullable=False),  # queued | running | done | failed
    Column("progress", Float, nullable=False, server_default="0"),  # 0..1
    Column("error", Text),
    Column("result", JSON),  # BacktestResult.to_json(): report, trades, thinned equity curve
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Index("ix_backtests_strategy", "strategy_id", "id"),
    Index("ix_backtests_user", "user_id", "id"),
)

# Trained models users upload (the `lightgbm` strategy's): the LightGBM text model itself is kept here
# (bounded by the upload limit), so a database backup holds everything and several processes read it.
models = Table(
    "models",
    metadata,
    _id(),
    _ref("owner_id", "users", nullable=False),
    Column("symbol", String(32), nullable=False),  # the unified symbol it was trained for
    Column("version", Integer, nullable=False),  # 1, 2, ... per owner and symbol
    Column("feature_set", String(64), nullable=False),  # "name@version" of the features it reads
    Column("timeframe", String(8)),
    Column("manifest", JSON, nullable=False),  # what `tradewire ml train` wrote (metrics, ranges, ...)
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("content", LargeBinary, nullable=False),  # the model in LightGBM's text format
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("owner_id", "symbol", "version", name="uq_models_owner_symbol_version"),
)

# The live channel's outbox (domain/events.py): each user's events, numbered 1, 2, 3 … per user in the
# transaction of the change they report (event_seq holds each user's last number, locked while a
# transaction writes: two transactions' events for one user commit in number order, so a reader of
# "numbers above n" never skips one). No foreign key: the outbox is appended to on the hot path and
# pruned by age (retention), nothing else refers to it.
events = Table(
    "events",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("topic", String(16), nullable=False),
    Column("type", String(16), nullable=False),
    Column("ts", UTCDateTime(), nullable=False),
    Column("data", Text, nullable=False),  # JSON, exact decimals as strings
    Index("ix_events_ts", "ts"),
)

event_seq = Table(
    "event_seq",
    metadata,
    Column("user_id", BigInteger, primary_key=True, autoincrement=False),
    Column("last_id", BigInteger, nullable=False),
)

# The tables kept in modules of their own (to keep this one readable) join `metadata` whenever the
# schema is loaded: AI chart analysis, sign-in (sessions, two-factor, the platform state), Telegram.
import tradewire.adapters.store.ai_tables  # noqa: E402
import tradewire.adapters.store.signin_tables  # noqa: E402
import tradewire.adapters.store.telegram_tables  # noqa: E402
import tradewire.adapters.store.webhook_tables  # noqa: E402, F401
