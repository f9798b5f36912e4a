"""What a user sets up and reads for AI chart analysis: endpoints (the key sealed at rest, write-only),
prompts (each create is a new version, never edited), and the analyses of their strategies."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tradewire.domain.ai.strategy import AiChartParams, AiChartStrategy
from tradewire.domain.members import Forbidden, Invalid, NotFound
from tradewire.domain.strategies.definition import StrategyDefinition
from tradewire.ports import Clock
from tradewire.ports.ai import AiEndpoint, AiStore, Analysis, Prompt
from tradewire.ports.two_factor import SecretSealer
from tradewire.services.chart_analyst import key_context

UrlCheck = Callable[[str], Awaitable[None]]  # ValueError (with the reason) for a URL not to be called


@dataclass(frozen=True, slots=True)
class EndpointRequest:
    name: str
    base_url: str
    model: str
    api_key: str = field(repr=False)


@dataclass(slots=True, eq=False)
class AiSetup:
    store: AiStore
    sealer: SecretSealer | None  # None: the server has no encryption key, and no endpoints
    check_url: UrlCheck
    clock: Clock

    async def add_endpoint(self, user_id: int, request: EndpointRequest) -> AiEndpoint:
        """Keep an endpoint with its key sealed (Forbidden without an encryption key on the server,
        Invalid for an address the server must not call)."""
        if self.sealer is None:
            raise Forbidden("AI endpoints need TRADEWIRE_ENCRYPTION_KEY on the server to encrypt their keys")
        try:
            await self.check_url(request.base_url)
        except ValueError as exc:
            raise Invalid(f"base_url: {exc}") from None
        endpoint_id = await asyncio.to_thread(
            self.store.add_endpoint, user_id, request.name, request.base_url, request.model, self.clock.now()
        )
        sealed = self.sealer.encrypt(request.api_key, key_context(endpoint_id))
        await asyncio.to_thread(self.store.seal_endpoint_key, endpoint_id, sealed)
        return await self.endpoint(user_id, endpoint_id)

    async def endpoints(self, user_id: int) -> list[AiEndpoint]:
        return await asyncio.to_thread(self.store.endpoints, user_id)

    async def endpoint(self, user_id: int, endpoint_id: int) -> AiEndpoint:
        return await asyncio.to_thread(self.store.endpoint, user_id, endpoint_id)

    async def delete_endpoint(self, user_id: int, endpoint_id: int) -> None:
        """Delete an endpoint; strategies naming it stop analysing (logged), its analyses stay."""
        await asyncio.to_thread(self.store.delete_endpoint, user_id, endpoint_id)

    async def add_prompt(self, user_id: int, name: str, text: str) -> Prompt:
        return await asyncio.to_thread(self.store.add_prompt, user_id, name, text, self.clock.now())

    async def prompts(self, user_id: int, name: str | None = None) -> list[Prompt]:
        return await asyncio.to_thread(self.store.prompts, user_id, name)

    async def analyses(
        self, user_id: int, strategy_id: int | None, before_id: int | None, limit: int
    ) -> list[Analysis]:
        return await asyncio.to_thread(self.store.analyses, user_id, strategy_id, before_id, limit)

    async def analysis(self, user_id: int, analysis_id: int) -> Analysis:
        return await asyncio.to_thread(self.store.analysis, user_id, analysis_id)

    async def image(self, user_id: int, analysis_id: int) -> bytes:
        image = await asyncio.to_thread(self.store.analysis_image, user_id, analysis_id)
        if image is None:
            raise NotFound(f"analysis {analysis_id} has no image (it was skipped)")
        return image


async def check_ai(store: AiStore | None, owner_id: int, definition: StrategyDefinition) -> None:
    """An `ai_chart` definition names an endpoint and a prompt (version) of its owner's; Invalid
    otherwise, so that no strategy is kept that would never analyse."""
    if definition.builtin != AiChartStrategy.name:
        return
    params = AiChartParams.model_validate(definition.params)  # the definition was checked already
    if store is None:
        raise Invalid("AI chart analysis is not available on this server")
    try:
        await asyncio.to_thread(store.endpoint, owner_id, params.endpoint_id)
    except NotFound:
        raise Invalid(f"params.endpoint_id: you have no AI endpoint {params.endpoint_id}") from None
    versions = [p.version for p in await asyncio.to_thread(store.prompts, owner_id, params.prompt)]
    if not versions:
        raise Invalid(f"params.prompt: you have no prompt named {params.prompt!r}")
    if params.prompt_version is not None and params.prompt_version not in versions:
        missing = f"prompt {params.prompt!r} has no version {params.prompt_version}"
        raise Invalid(f"params.prompt_version: {missing}")
