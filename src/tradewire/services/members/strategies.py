"""Strategies: publish one (a webhook or a built-in), change it, rotate its passphrase, rule on its pairs."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Callable, Container
from dataclasses import dataclass, field

from tradewire.domain.members import (
    Conflict,
    Forbidden,
    Invalid,
    NewStrategy,
    NotFound,
    Strategy,
    StrategyChanges,
    StrategySource,
    User,
)
from tradewire.domain.strategies.definition import StrategyDefinition
from tradewire.domain.track_record import PairRecord, PairStatus
from tradewire.ports import Clock, Members, Passwords
from tradewire.ports.ai import AiStore
from tradewire.ports.models import ModelRegistry
from tradewire.services.ai_setup import check_ai
from tradewire.services.caches import TtlCache
from tradewire.services.members.models import check_model


@dataclass(frozen=True, slots=True)
class StrategyRequest:
    """A strategy to publish: a TradingView webhook, or with `definition` a built-in one."""

    name: str
    slug: str | None = None
    description: str = ""
    is_public: bool = False
    passphrase: str | None = field(default=None, repr=False)
    definition: StrategyDefinition | None = None
    dedup_window_s: int = 60


@dataclass(frozen=True, slots=True)
class Published:
    strategy: Strategy
    passphrase: str | None  # a webhook's: shown once, stored hashed


def check_definition(
    definition: StrategyDefinition,
    paper_pairs: Container[str],
    is_exchange_id: Callable[[str], bool] | None = None,
) -> None:
    """A definition that trades on the paper market names its pairs, and is not a 1 s one (Invalid
    otherwise): 1 s candles are built from an exchange's public trade stream, which paper has not.
    Candles from anywhere else come from an exchange the server knows (`is_exchange_id`)."""
    source = definition.candles_from
    if source != "paper" and is_exchange_id is not None and not is_exchange_id(source):
        raise Invalid(f"candles_from: unknown exchange {source!r}; 'paper' or a ccxt id such as binance")
    if definition.candles_from == "paper" and definition.timeframe == "1s":
        raise Invalid(
            "timeframe 1s needs an exchange's public trade stream and the paper market has none: "
            "set candles_from to an exchange that streams trades, e.g. binance"
        )
    if definition.candles_from == "paper":
        unknown = [s for s in definition.symbols if s not in paper_pairs]
        if unknown:
            raise Invalid(f"unknown pairs: {unknown}")


def new_passphrase() -> str:
    return secrets.token_urlsafe(18)


PublicStrategies = dict[int, Strategy]  # by id, as anyone but their owners sees them


@dataclass(frozen=True, slots=True)
class MarketplaceCaches:
    """What every user reads of the marketplace, kept a few seconds: the public strategies (with their
    subscriber counts) and the public strategies' records per pair. A user's own strategies are
    always read fresh; a write that changes what is kept forgets it at once (in every process, when
    the caches share their invalidations)."""

    public: TtlCache[None, PublicStrategies]
    track_records: TtlCache[int, list[PairRecord]]  # by strategy id, public strategies only

    @classmethod
    def lasting(cls, ttl_s: float) -> MarketplaceCaches:
        """Caches keeping values `ttl_s` seconds (0: none kept)."""
        return cls(TtlCache("marketplace", ttl_s, maxsize=1), TtlCache("track_records", ttl_s))


@dataclass(slots=True, eq=False)
class Strategies:
    """The strategies a user publishes and sees; only the owner changes one."""

    members: Members
    passwords: Passwords
    clock: Clock
    paper_pairs: Container[str]
    models: ModelRegistry | None = None  # what `lightgbm` definitions may name
    ai: AiStore | None = None  # the endpoints and prompts `ai_chart` definitions may name
    caches: MarketplaceCaches = field(default_factory=lambda: MarketplaceCaches.lasting(0))
    is_exchange_id: Callable[[str], bool] | None = None  # where candles_from may name

    async def publish(self, user_id: int, request: StrategyRequest) -> Published:
        """A new strategy of the user's; Forbidden for a public one unless the user publishes
        (a provider or an admin: Role.publishes). A private one, e.g. a personal bot, anyone may."""
        if request.is_public:
            await self._may_publish(user_id)
        if request.definition is not None:
            check_definition(request.definition, self.paper_pairs, self.is_exchange_id)
            await check_model(self.models, user_id, request.definition)
            await check_ai(self.ai, user_id, request.definition)
        passphrase = request.passphrase or new_passphrase()
        new = NewStrategy(
            owner_id=user_id,
            slug=request.slug or _slugify(request.name),
            name=request.name,
            description=request.description,
            source=StrategySource.TRADINGVIEW if request.definition is None else StrategySource.INDICATOR,
            passphrase_hash=await asyncio.to_thread(self.passwords.hash, passphrase),
            is_public=request.is_public,
            created_at=self.clock.now(),
            definition=request.definition,
            dedup_window_s=request.dedup_window_s,
        )
        strategy_id = await asyncio.to_thread(self.members.add_strategy, new)
        self.caches.public.clear()
        strategy = await self.get(user_id, strategy_id)
        return Published(strategy, passphrase if request.definition is None else None)

    async def visible(self, user_id: int) -> list[Strategy]:
        """The user's strategies (read now) and every public one (the marketplace, kept a few seconds)."""
        public = await self._public()
        own = await asyncio.to_thread(self.members.strategies_of_owner, user_id)
        mine = {s.id for s in own}
        return sorted([*own, *(s for s in public.values() if s.id not in mine)], key=lambda s: s.id)

    async def _public(self) -> PublicStrategies:
        async def load() -> PublicStrategies:
            return {s.id: s for s in await asyncio.to_thread(self.members.public_strategies)}

        return await self.caches.public.get_async(None, load)

    async def get(self, user_id: int, strategy_id: int) -> Strategy:
        return await asyncio.to_thread(self.members.strategy, user_id, strategy_id)

    async def change(self, user_id: int, strategy_id: int, changes: StrategyChanges) -> Strategy:
        current = await self.own(user_id, strategy_id)
        if changes.is_empty():
            raise Invalid("nothing to change")
        if changes.is_public and not current.is_public:
            await self._may_publish(user_id)
        if changes.definition is not None:
            if current.source != StrategySource.INDICATOR:
                raise Conflict(f"strategy {strategy_id} is a {current.source} strategy, not a built-in one")
            check_definition(changes.definition, self.paper_pairs, self.is_exchange_id)
            await check_model(self.models, user_id, changes.definition)
            await check_ai(self.ai, user_id, changes.definition)
        await asyncio.to_thread(self.members.change_strategy, user_id, strategy_id, changes)
        self.caches.public.clear()
        return await self.get(user_id, strategy_id)

    async def rotate_passphrase(self, user_id: int, strategy_id: int) -> str:
        """A new webhook passphrase; the old one stops working at once."""
        await self.own(user_id, strategy_id)  # before spending a hash on it
        passphrase = new_passphrase()
        passphrase_hash = await asyncio.to_thread(self.passwords.hash, passphrase)
        await asyncio.to_thread(self.members.set_strategy_passphrase, user_id, strategy_id, passphrase_hash)
        return passphrase

    async def pairs(self, user_id: int, strategy_id: int, username: str | None = None) -> list[PairRecord]:
        """The strategy's record per pair, each reviewed as of now: a public strategy's kept a few
        seconds for everyone but its owner (`username`), who reads it now, as a private one's (NotFound
        for anyone else). The owner's page asks again when a trade may have closed: it must not get
        what was kept from before it."""
        now = self.clock.now()
        # With no cache, the public list (every strategy's subscriber count) is not worth reading here.
        public = await self._public() if self.caches.track_records.keeps else {}
        shown = public.get(strategy_id)
        if shown is not None and (username is None or shown.owner != username):

            async def load() -> list[PairRecord]:
                return await asyncio.to_thread(self.members.pair_records, strategy_id)

            records = await self.caches.track_records.get_async(strategy_id, load)
        else:
            records = await asyncio.to_thread(self.members.strategy_pairs, user_id, strategy_id)
        return [p.reviewed(now) for p in records]

    async def override_pair(
        self, user: User, strategy_id: int, symbol: str, status: PairStatus
    ) -> PairRecord:
        """The owner blacklists a pair, re-enables it (a 30-day whitelist) or hands it back to the rules."""
        await self.own(user.id, strategy_id)
        if symbol not in self.paper_pairs:
            raise Invalid(f"unknown pair {symbol!r}")
        record = await asyncio.to_thread(
            self.members.override_pair,
            user.id,
            strategy_id,
            symbol,
            status,
            user.username,
            self.clock.now(),
        )
        self.caches.track_records.invalidate(strategy_id)
        return record

    async def _may_publish(self, user_id: int) -> None:
        """Forbidden unless the user's role lists strategies in the marketplace (read now: a role
        changed a moment ago counts)."""
        user = await asyncio.to_thread(self.members.user_by_id, user_id)
        if user is None or not user.role.publishes:
            raise Forbidden(
                "subscribers cannot publish strategies to the marketplace: keep it private "
                "(is_public false), or ask an admin to make you a provider"
            )

    async def own(self, user_id: int, strategy_id: int) -> Strategy:
        """The user's own strategy, or NotFound: checked before anything else about the request, so
        another user's strategy (public or not) answers exactly like one that does not exist."""
        try:
            strategy = await self.get(user_id, strategy_id)
        except NotFound:
            strategy = None
        if strategy is None or not strategy.is_owner:
            raise NotFound(f"no strategy {strategy_id} of yours")
        return strategy


def _slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:48] or "strategy"
    return f"{slug}-{secrets.token_hex(3)}"
