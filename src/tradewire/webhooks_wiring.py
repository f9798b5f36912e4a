"""Wires outgoing webhooks (runtime.py's part for them): the setup the API uses and the deliveries
loop started with the server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass

from sqlalchemy import Engine

from tradewire.adapters.store.events import SqlEvents
from tradewire.adapters.store.webhooks import SqlHooks
from tradewire.adapters.webhooks import HttpPoster
from tradewire.config import Settings
from tradewire.ports import Clock
from tradewire.ports.two_factor import SecretSealer
from tradewire.services.webhooks.delivery import Deliveries
from tradewire.services.webhooks.setup import HookSetup

Loop = Callable[[asyncio.Event], Coroutine[object, object, None]]


@dataclass(eq=False)
class Webhooks:
    setup: HookSetup
    deliveries: Deliveries
    poster: HttpPoster

    def loops(self) -> list[Loop]:
        return [self._run]

    async def _run(self, stop: asyncio.Event) -> None:
        try:
            await self.deliveries.run(stop)
        finally:
            await self.poster.aclose()


def build_webhooks(settings: Settings, engine: Engine, clock: Clock, sealer: SecretSealer | None) -> Webhooks:
    store = SqlHooks(engine)
    allow = settings.webhooks_allow_private
    poster = HttpPoster(settings.webhooks_timeout_s, allow_private=allow)
    setup = HookSetup(store, sealer, poster, clock, allow_http=allow, most=settings.webhooks_per_user)
    deliveries = Deliveries(
        store,
        SqlEvents(engine),
        poster,
        sealer,
        allow_http=allow,
        poll_s=settings.webhooks_interval_s,
        tries=settings.webhooks_tries,
        retry_base_s=settings.webhooks_retry_base_s,
    )
    return Webhooks(setup, deliveries, poster)
