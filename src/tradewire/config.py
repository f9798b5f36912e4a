"""Typed settings from TRADEWIRE_* environment variables and an optional TOML file; safe defaults."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _config_file() -> Path:
    return Path(os.environ.get("TRADEWIRE_CONFIG", "tradewire.toml"))


class Settings(BaseSettings):
    """Every setting has a safe default: SQLite under ./var, paper trading, bound to localhost."""

    model_config = SettingsConfigDict(env_prefix="TRADEWIRE_", extra="ignore", frozen=True)

    var_dir: Path = Path("var")
    database_url: str = ""  # empty: sqlite:///<var_dir>/tradewire.db
    # One server per database: a second one waits this long for the first to end, then refuses.
    server_lock_wait_s: float = Field(default=10.0, ge=0, le=600)
    # What this process runs: "all" (the embedded default: API and trading in one process), "api"
    # (API, webhooks and the live channel; routing, execution and the loops are left to workers) or
    # "worker" (`tradewire worker`: the trading loops, no HTTP). Split processes share TRADEWIRE_BUS=redis.
    role: Literal["all", "api", "worker"] = "all"
    # Workers: 0 (the default), one active at a time and the others standing by; N > 0, every worker
    # active, the accounts spread over N partitions (account id % N), each owned by one worker at a time
    # and taken over by the others when it stops or dies (PostgreSQL only; every worker the same N).
    worker_partitions: int = Field(default=0, ge=0, le=4096)
    # How often a worker with partitions counts the workers and takes or gives back its fair share.
    worker_rebalance_s: float = Field(default=1.0, gt=0, le=60)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path | None = None  # real candles; defaults to ../shared/data when it exists
    encryption_key: SecretStr | None = None  # base64 of 32 bytes; required once a live account exists
    encryption_old_keys: list[SecretStr] = Field(default_factory=list)  # still readable, for rotation
    jwt_secret: SecretStr | None = None  # empty: generated once into <var_dir>/jwt.secret
    jwt_ttl_minutes: int = Field(default=15, gt=0, le=24 * 60)  # an access token's life
    # An unused refresh token's life; each use hands out the next one (a session lasts while it is used).
    refresh_token_days: float = Field(default=14.0, gt=0, le=365)
    paper_fee_rate: str = "0.001"
    paper_starting_balance: str = "10000"
    paper_quote_currency: str = "USDT"
    feed_interval_s: float = Field(default=1.0, gt=0)
    feed_seed: int = 7
    reconcile_interval_s: float = Field(default=2.0, gt=0)
    # How often every open position's stop loss, take profit, trailing stop and time limit are checked.
    monitor_interval_s: float = Field(default=1.0, gt=0)
    # How often the platform's own strategies and bots look for newly closed candles.
    strategy_interval_s: float = Field(default=5.0, gt=0)
    # How often 1 s strategies look for newly closed candles (built from public trade streams).
    seconds_strategy_interval_s: float = Field(default=0.5, gt=0, le=60)
    # 1 s candles kept per streamed symbol: enough for the longest lookback a 1 s strategy reads.
    second_candles_capacity: int = Field(default=2_000, ge=100, le=100_000)
    # A 1 s candle closes this long after its second ended (or when a later trade arrives): the time a
    # trade may take to reach us; one arriving later is left out of candles as late.
    second_candles_grace_ms: int = Field(default=250, ge=0, le=600_000)
    # Overrides of ccxt's API urls per exchange for public candles, e.g. {"binance": {"public": "..."}};
    # keys under "ws." (e.g. "ws.spot") reach the trade stream that builds 1 s candles.
    candles_urls: dict[str, dict[str, str]] = Field(default_factory=dict)
    lost_order_after_s: float = Field(default=120.0, gt=0)  # a SUBMITTED order not found this long...
    lost_order_checks: int = Field(default=3, ge=1)  # ...in this many lookups never reached the exchange
    # Cancel limit orders still unfilled after this long (a subscription may set its own); 0: never.
    limit_order_timeout_s: float = Field(default=0.0, ge=0, le=30 * 86_400)
    # An order seen canceled or expired is looked up again this many seconds later (and again after
    # each late fill), for fills the exchange reports after the cancel; [] turns the checks off.
    late_fill_checks_s: list[float] = Field(default_factory=lambda: [2.0, 10.0, 60.0], max_length=10)
    ticker_ttl_s: float = Field(default=10.0, gt=0)
    markets_refresh_s: float = Field(default=3600.0, gt=0)  # live exchanges' market lists reloaded
    markets_retry_s: float = Field(default=30.0, gt=0)  # a market list that failed to load, tried again
    balance_ttl_s: float = Field(default=5.0, ge=0)  # GET /accounts/{id}/balance of a live account
    # What every user reads of the marketplace (the public strategies with their subscriber counts, and
    # their records per pair) is kept this long in each process; a write (publish, change, subscribe,
    # pause, a pair ruled on) forgets it at once, in split processes too (told over Redis).
    # A user's own strategies are always read fresh. 0: read on every request.
    marketplace_cache_ttl_s: float = Field(default=2.0, ge=0, le=300)
    # Which model version a `lightgbm` strategy uses is looked up again at most this often (at once after
    # an upload or delete in any process). 0: on every evaluation.
    model_lookup_ttl_s: float = Field(default=10.0, ge=0, le=300)
    exchange_timeout_ms: int = Field(default=10_000, ge=100)  # one HTTP request to a live exchange
    # First wait before a live exchange read or order lookup is tried again (doubles each time, jittered).
    exchange_retry_base_s: float = Field(default=0.2, gt=0, le=60)
    # Let users point live accounts' api_urls at loopback and private addresses, and over plain http
    # (a local proxy or test exchange). Off: https/wss to public hosts only.
    allow_private_exchange_urls: bool = False
    # AI chart analysis: endpoints on loopback and private addresses, and over plain http (a model
    # served on this machine or network, e.g. Ollama or vLLM); off: https to public hosts only.
    allow_private_ai_urls: bool = False
    ai_timeout_s: float = Field(default=60.0, gt=0, le=600)  # one chat-completions call
    ai_breaker_failures: int = Field(default=3, ge=1, le=100)  # failures in a row that pause an endpoint
    ai_breaker_cooldown_s: float = Field(default=300.0, gt=0, le=86_400)  # the pause, then one trial
    exchange_streams: bool = True  # follow live accounts' order updates over WebSocket where ccxt can
    paper_prices_from: str | None = None  # e.g. "binance": paper markets follow its public tickers
    paper_prices_urls: dict[str, str] = Field(default_factory=dict)  # overrides of that client's urls
    paper_prices_interval_s: float = Field(default=5.0, gt=0)
    # Largest request body any endpoint reads (the webhook keeps its own 64 KiB); 413 beyond it.
    max_request_body_bytes: int = Field(default=1024 * 1024, ge=64 * 1024, le=256 * 1024 * 1024)
    # Largest model file POST /api/v1/models takes (kept in the database); 413 beyond it.
    max_model_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024, le=64 * 1024 * 1024)
    # /docs, /redoc and /openapi.json; off on a public server that does not want to show its API.
    docs_enabled: bool = True
    # Origins a browser may call the API from (CORS), e.g. "https://app.example.com,https://x.org" or a
    # JSON list; empty: no CORS headers at all (same-origin only).
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Strict-Transport-Security max-age sent with every response; 0: not sent (set it behind TLS only).
    hsts_max_age_s: int = Field(default=0, ge=0, le=2 * 365 * 86_400)
    # /metrics (Prometheus): without a token only clients on this machine (loopback) may read it;
    # with one, any client that sends "Authorization: Bearer <token>".
    metrics_token: SecretStr | None = None
    # /health's database check gives up after this long (503).
    health_timeout_s: float = Field(default=2.0, gt=0, le=60)
    # `tradewire db backup`: where backups go (default <var_dir>/backups) and how many are kept, and
    # for how long (0: no limit by age).
    backup_dir: Path | None = None
    backup_keep: int = Field(default=7, ge=1, le=10_000)
    backup_max_age_days: float = Field(default=0.0, ge=0)
    # The live channel (WebSocket /api/v1/ws) and its events outbox.
    ws_auth_timeout_s: float = Field(default=5.0, gt=0, le=60)  # the first message must authenticate
    ws_heartbeat_s: float = Field(default=20.0, gt=0, le=300)  # {"op":"ping"} after this long idle
    ws_session_check_s: float = Field(default=10.0, gt=0, le=300)  # a signed-out client is cut within
    ws_send_queue: int = Field(default=1000, ge=10, le=100_000)  # messages waiting; beyond: closed 4408
    ws_max_message_bytes: int = Field(default=4096, ge=512, le=1024 * 1024)  # a client's message
    ws_close_timeout_s: float = Field(default=10.0, gt=0, le=120)  # a slow client's close frame, at most
    ws_marks_s: float = Field(default=3.0, gt=0, le=300)  # open positions' live marks pushed this often
    ws_deflate: bool = False  # permessage-deflate on the live channel: less traffic, far more CPU per frame
    ws_catch_up_s: float = Field(default=2.0, gt=0, le=60)  # streams checked against the outbox
    events_retention_hours: float = Field(default=48.0, ge=24)  # events older are pruned
    events_prune_interval_s: float = Field(default=300.0, gt=0)
    events_prune_batch: int = Field(default=5000, ge=100, le=100_000)
    # Redis, e.g. "redis://127.0.0.1:6379/0": rate limit counts shared by every process using it.
    redis_url: str = ""
    # While that Redis cannot be reached, each process counts the rate limits in its own memory and
    # tries Redis again this often.
    redis_retry_s: float = Field(default=5.0, gt=0, le=300)
    # The bus between the services: "inprocess" (this process only; the embedded default) or "redis"
    # (Redis Streams at TRADEWIRE_REDIS_URL, shared by every process: each message handled once per
    # handler type, at least once). Its streams' keys start with bus_prefix.
    bus: Literal["inprocess", "redis"] = "inprocess"
    bus_prefix: str = Field(default="tradewire", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    # A message whose handler failed this many times goes to the <bus_prefix>:dead stream with its error.
    bus_max_deliveries: int = Field(default=5, ge=1, le=100)
    # A failed message, or one held by a consumer that died, is taken over after it lay this long.
    bus_claim_idle_s: float = Field(default=30.0, ge=0.05, le=86_400)
    # Messages kept per stream (trimmed approximately, so Redis memory stays bounded).
    bus_stream_maxlen: int = Field(default=100_000, ge=100, le=10_000_000)
    # Requests per tier ("N/second|minute|hour|day", or "N/15minutes"), per user when signed in, else
    # per address (api/limits.py says which endpoint is in which tier); the webhook counts accepted
    # alerts per strategy, and wrong passphrases per strategy and address.
    rate_limit_general: str = "100/15minutes"
    rate_limit_signin: str = "5/15minutes"
    rate_limit_trading: str = "30/minute"
    rate_limit_marketplace: str = "20/minute"
    rate_limit_exports: str = "3/hour"
    rate_limit_webhook: str = "120/minute"
    rate_limit_webhook_failures: str = "10/15minutes"
    # Proxies (addresses or networks, e.g. ["127.0.0.1", "10.0.0.0/8"]) whose X-Forwarded-For is
    # believed for the client's address (sign-in throttle, rate limits); none by default.
    trusted_proxies: list[str] = Field(default_factory=list, max_length=100)
    # Anyone may create a user with POST /users (off: 403 for every name, taken or not).
    signup_enabled: bool = False
    # What a signed-up user is: a subscriber (trades, subscribes, runs personal bots) or a provider
    # (also publishes strategies to the marketplace). Admins come from `tradewire user create --admin`.
    signup_role: Literal["subscriber", "provider"] = "subscriber"
    password_min_length: int = Field(default=10, ge=8, le=256)  # and never a common password
    # Failed sign-ins per address and per account: this many are free, each further one doubles the
    # wait before the next attempt (from 1 s), and the signin_lock_after-th locks for signin_lock_minutes.
    signin_free_failures: int = Field(default=3, ge=0, le=100)
    signin_lock_after: int = Field(default=10, ge=1, le=1000)
    signin_lock_minutes: float = Field(default=15.0, gt=0, le=24 * 60)
    # An account's lock does not apply where its user signed in from during this many days.
    signin_known_address_days: float = Field(default=30.0, ge=0, le=365)
    # Audit entries per process and hour for sign-in attempts that are in nobody's trail (unknown
    # names) or refused unchecked (locked); beyond, they are counted and summed up in one entry.
    audit_attempts_per_hour: int = Field(default=600, ge=1, le=1_000_000)
    # The installation's Telegram bot: on only with a token (from @BotFather). The Bot API's base URL
    # (a local fake in tests); long polling with this timeout.
    telegram_token: SecretStr | None = None
    telegram_api_url: str = Field(default="https://api.telegram.org", pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    # Set: Telegram POSTs updates to this public HTTPS URL, which must reach /api/v1/telegram/updates of
    # this server (a TLS proxy in front); unset: long polling.
    telegram_webhook_url: str | None = Field(
        default=None, max_length=2048, pattern=r"^https://[^\s/]+(/[^\s]*)?$"
    )
    telegram_poll_timeout_s: int = Field(default=30, ge=0, le=60)
    telegram_request_timeout_s: float = Field(default=10.0, gt=0, le=120)
    telegram_link_code_minutes: float = Field(default=10.0, gt=0, le=24 * 60)  # a link code's life
    telegram_link_attempts: str = "5/15minutes"  # /start CODE tries per chat
    # Telegram's own limits on a bot: messages per chat and in all (moving windows).
    telegram_chat_rate: str = "1/second"
    telegram_rate: str = "30/second"
    telegram_notify_interval_s: float = Field(default=1.0, gt=0, le=60)  # outboxes checked for news
    telegram_summary_interval_s: float = Field(default=60.0, gt=0, le=3600)  # daily summaries checked
    # Outgoing webhooks (the notifications, posted to users' URLs). Private, loopback, link-local and
    # other non-public addresses, and plain http, only when allowed (a receiver on this network; tests).
    webhooks_allow_private: bool = False
    webhooks_per_user: int = Field(default=5, ge=1, le=100)
    webhooks_timeout_s: float = Field(default=10.0, gt=0, le=60)  # one POST
    webhooks_tries: int = Field(default=6, ge=1, le=20)  # posts of one event before it is skipped
    webhooks_retry_base_s: float = Field(default=20.0, gt=0, le=3600)  # first wait, doubled each try
    webhooks_interval_s: float = Field(default=1.0, gt=0, le=60)  # hooks' outboxes checked for news
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("paper_fee_rate", "paper_starting_balance")
    @classmethod
    def _decimal_text(cls, value: str) -> str:
        from decimal import Decimal, InvalidOperation

        try:
            number = Decimal(value)
        except InvalidOperation as exc:
            raise ValueError(f"not a number: {value!r}") from exc
        if not number.is_finite() or number < 0:
            raise ValueError(f"must be a non-negative number: {value!r}")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):  # the environment: comma-separated, or a JSON list
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origin_form(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and (
                not origin.startswith(("http://", "https://")) or origin.rstrip("/").count("/") > 2
            ):
                raise ValueError(
                    f"an origin is scheme://host[:port], e.g. https://app.example.com: {origin!r}"
                )
        return [origin.rstrip("/") for origin in value]

    @model_validator(mode="after")
    def _bus_has_redis(self) -> Settings:
        if self.bus == "redis" and not self.redis_url:
            raise ValueError("TRADEWIRE_BUS=redis needs TRADEWIRE_REDIS_URL, e.g. redis://127.0.0.1:6379/0")
        return self

    @model_validator(mode="after")
    def _split_shares_a_bus(self) -> Settings:
        if self.role != "all" and self.bus != "redis":
            raise ValueError(
                f"TRADEWIRE_ROLE={self.role} runs beside other processes, which it reaches through a "
                "shared bus: set TRADEWIRE_BUS=redis and TRADEWIRE_REDIS_URL"
            )
        if self.worker_partitions and self.role != "worker":
            raise ValueError("TRADEWIRE_WORKER_PARTITIONS is for workers (TRADEWIRE_ROLE=worker)")
        if self.worker_partitions and not self.effective_database_url.startswith("postgresql"):
            raise ValueError("several active workers (TRADEWIRE_WORKER_PARTITIONS) need PostgreSQL")
        if self.role != "all" and self.telegram_webhook_url:
            raise ValueError(
                "the Telegram bot runs in the worker, which receives no HTTP: with TRADEWIRE_ROLE="
                f"{self.role}, leave TRADEWIRE_TELEGRAM_WEBHOOK_URL unset (the bot polls)"
            )
        return self

    @model_validator(mode="after")
    def _lock_after_free_failures(self) -> Settings:
        if self.signin_lock_after <= self.signin_free_failures:
            raise ValueError("signin_lock_after must be above signin_free_failures")
        return self

    @field_validator(
        "rate_limit_general",
        "rate_limit_signin",
        "rate_limit_trading",
        "rate_limit_marketplace",
        "rate_limit_exports",
        "rate_limit_webhook",
        "rate_limit_webhook_failures",
        "telegram_link_attempts",
        "telegram_chat_rate",
        "telegram_rate",
    )
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse

        try:
            item = parse(value)
        except ValueError as exc:
            raise ValueError(f"not a rate such as '100/15minutes': {value!r}") from exc
        if item.amount < 1:
            raise ValueError(f"must allow at least one request: {value!r}")
        return value

    @property
    def rate_limits(self) -> dict[str, str]:
        """Each tier's limit, by tier name."""
        prefix = "rate_limit_"
        return {
            name[len(prefix) :]: getattr(self, name)
            for name in type(self).model_fields
            if name.startswith(prefix)
        }

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise ValueError(f"not an address or network: {entry!r}") from exc
        return value

    @field_validator("late_fill_checks_s")
    @classmethod
    def _rising(cls, value: list[float]) -> list[float]:
        if any(not 0 < v <= 86_400 for v in value) or value != sorted(set(value)):
            raise ValueError("must be rising numbers of seconds, each above 0 and at most 86400")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments, then the environment, then the TOML file.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, _config_file()))

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'tradewire.db'}"

    @property
    def effective_backup_dir(self) -> Path:
        return self.backup_dir if self.backup_dir is not None else self.var_dir / "backups"

    @property
    def effective_data_dir(self) -> Path | None:
        if self.data_dir is not None:
            return self.data_dir
        from tradewire.adapters.candles_parquet import default_data_dir

        return default_data_dir()


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and TOML file, with explicit overrides on top."""
    return Settings(**overrides)
