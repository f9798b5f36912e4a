"""AI chart analysis: your endpoints (keys write-only), prompts (each create a new version), and the
analyses of your `ai_chart` strategies with the chart each one read."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, Response

from tradewire.api.audited import AuditDep
from tradewire.api.auth import CurrentUser, RuntimeDep
from tradewire.api.fields import DbId
from tradewire.api.paging import PageQuery
from tradewire.api.schemas.ai import AiEndpointCreate, AiEndpointOut, AnalysisOut, PromptCreate, PromptOut
from tradewire.api.schemas.common import request_of
from tradewire.domain.audit import Action
from tradewire.services.ai_setup import EndpointRequest

router = APIRouter(prefix="/api/v1/ai", tags=["ai"])


def _endpoint(e: object) -> AiEndpointOut:
    return AiEndpointOut.model_validate(e, from_attributes=True)


@router.post(
    "/endpoints", response_model=AiEndpointOut, status_code=201, responses={403: {}, 409: {}, 422: {}}
)
async def create_endpoint(
    body: AiEndpointCreate, runtime: RuntimeDep, user: CurrentUser, audit: AuditDep
) -> AiEndpointOut:
    """Register an OpenAI-compatible chat-completions endpoint. The key is encrypted at rest and never
    returned; 403 when the server has no encryption key, 422 for an address it must not call."""
    request = request_of(body, EndpointRequest)
    endpoint = await runtime.ai.add_endpoint(user.id, request)
    await audit.record(
        user, Action.AI_ENDPOINT_CREATED, ("ai_endpoint", endpoint.id), {"model": endpoint.model}
    )
    return _endpoint(endpoint)


@router.get("/endpoints", response_model=list[AiEndpointOut])
async def list_endpoints(runtime: RuntimeDep, user: CurrentUser) -> list[AiEndpointOut]:
    return [_endpoint(e) for e in await runtime.ai.endpoints(user.id)]


@router.get("/endpoints/{endpoint_id}", response_model=AiEndpointOut, responses={404: {}})
async def get_endpoint(endpoint_id: DbId, runtime: RuntimeDep, user: CurrentUser) -> AiEndpointOut:
    return _endpoint(await runtime.ai.endpoint(user.id, endpoint_id))


@router.delete("/endpoints/{endpoint_id}", status_code=204, response_class=Response, responses={404: {}})
async def delete_endpoint(
    endpoint_id: DbId, runtime: RuntimeDep, user: CurrentUser, audit: AuditDep
) -> Response:
    """Delete an endpoint and its key; strategies naming it stop analysing, their analyses stay."""
    await runtime.ai.delete_endpoint(user.id, endpoint_id)
    await audit.record(user, Action.AI_ENDPOINT_DELETED, ("ai_endpoint", endpoint_id))
    return Response(status_code=204)


@router.post("/prompts", response_model=PromptOut, status_code=201, responses={409: {}})
async def create_prompt(body: PromptCreate, runtime: RuntimeDep, user: CurrentUser) -> PromptOut:
    """A prompt version: version 1 of a new name, the next version of a known one. Versions are never
    changed; every analysis records the version it used."""
    return PromptOut(**asdict(await runtime.ai.add_prompt(user.id, body.name, body.text)))


@router.get("/prompts", response_model=list[PromptOut])
async def list_prompts(
    runtime: RuntimeDep,
    user: CurrentUser,
    name: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")] = None,
) -> list[PromptOut]:
    """Your prompts (or one name's), every version."""
    return [PromptOut(**asdict(p)) for p in await runtime.ai.prompts(user.id, name)]


@router.get("/analyses", response_model=list[AnalysisOut])
async def list_analyses(
    runtime: RuntimeDep, user: CurrentUser, page: PageQuery, strategy_id: DbId | None = None
) -> list[AnalysisOut]:
    """Analyses of your strategies, newest first: what the model answered, the confidence, whether it
    was traded (and the signal), or why it failed or was skipped."""
    found = await runtime.ai.analyses(user.id, strategy_id, page.before_id, page.limit)
    return [AnalysisOut(**asdict(a)) for a in found]


@router.get("/analyses/{analysis_id}", response_model=AnalysisOut, responses={404: {}})
async def get_analysis(analysis_id: DbId, runtime: RuntimeDep, user: CurrentUser) -> AnalysisOut:
    return AnalysisOut(**asdict(await runtime.ai.analysis(user.id, analysis_id)))


@router.get(
    "/analyses/{analysis_id}/image.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "the chart the model read"}, 404: {}},
)
async def analysis_image(analysis_id: DbId, runtime: RuntimeDep, user: CurrentUser) -> Response:
    """The chart the model read (404 for a skipped analysis, which has none)."""
    image = await runtime.ai.image(user.id, analysis_id)
    return Response(image, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"})
