"""Models: upload a trained LightGBM model (checked in a child process), list, read, download, delete."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Response, UploadFile, status

from tradewire.api.audited import AuditDep
from tradewire.api.auth import CurrentUser, RuntimeDep
from tradewire.api.fields import DbId
from tradewire.api.schemas.models import ModelOut
from tradewire.domain.audit import Action, Detail
from tradewire.domain.members import Invalid, Unavailable
from tradewire.runtime import Runtime
from tradewire.services.members.models import Models, ModelUpload

router = APIRouter(prefix="/api/v1", tags=["models"])

MANIFEST_BYTES = 256 * 1024  # a manifest and the multipart framing, beyond the model file's bound


def _models(runtime: Runtime) -> Models:
    models = runtime.marketplace.models
    if models is None:
        raise Unavailable("models are not available on this server")
    return models


def _manifest(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None

    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    try:
        value = json.loads(text, parse_constant=no_constant)
        json.dumps(value, ensure_ascii=False).encode()  # text that storage can hold (no lone surrogates)
    except (ValueError, UnicodeEncodeError, RecursionError) as exc:
        raise Invalid(f"manifest: not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(value, dict):
        raise Invalid("manifest: a JSON object, as manifest.json from `tradewire ml train`")
    return value


@router.post("/models", response_model=ModelOut, status_code=201)
async def upload_model(
    file: Annotated[UploadFile, File(description="the model in LightGBM's text format (model.txt)")],
    runtime: RuntimeDep,
    user: CurrentUser,
    audit: AuditDep,
    manifest: Annotated[
        str | None, Form(max_length=MANIFEST_BYTES // 2, description="manifest.json's content")
    ] = None,
    symbol: Annotated[
        str | None, Form(max_length=40, description="the symbol, if no manifest says it")
    ] = None,
    feature_set: Annotated[
        str | None, Form(max_length=64, description="name@version, if no manifest says it")
    ] = None,
    timeframe: Annotated[str | None, Form(max_length=8)] = None,
) -> ModelOut:
    """Upload a trained model (multipart: `file`, and `manifest` or `symbol` + `feature_set`). It is
    parsed as a LightGBM text model in a child process with time and memory limits (never unpickled),
    must read exactly the declared feature set and predict on a sample row; 422 says why not. Each
    upload for a symbol is a new version: strategies naming the symbol use the latest at their next
    candle."""
    limit = runtime.settings.max_model_bytes
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"model file over {limit} bytes")
    upload = ModelUpload(content, _manifest(manifest), symbol, feature_set, timeframe)
    model = await _models(runtime).upload(user.id, upload)
    detail: Detail = {"symbol": model.symbol, "version": model.version, "sha256": model.sha256}
    await audit.record(user, Action.MODEL_UPLOADED, ("model", model.id), detail)
    return ModelOut(**asdict(model))


@router.get("/models", response_model=list[ModelOut])
async def list_models(runtime: RuntimeDep, user: CurrentUser) -> list[ModelOut]:
    """Your models, oldest first."""
    return [ModelOut(**asdict(m)) for m in await _models(runtime).mine(user.id)]


@router.get("/models/{model_id}", response_model=ModelOut)
async def get_model(model_id: DbId, runtime: RuntimeDep, user: CurrentUser) -> ModelOut:
    return ModelOut(**asdict(await _models(runtime).get(user.id, model_id)))


@router.get(
    "/models/{model_id}/file",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "the model in LightGBM's text format"}},
)
async def download_model(model_id: DbId, runtime: RuntimeDep, user: CurrentUser) -> Response:
    """The model file as uploaded."""
    info, content = await _models(runtime).content(user.id, model_id)
    name = f"model-{info.id}-v{info.version}.txt"
    return Response(
        content,
        media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "X-Model-Sha256": info.sha256},
    )


@router.delete("/models/{model_id}", status_code=204)
async def delete_model(model_id: DbId, runtime: RuntimeDep, user: CurrentUser, audit: AuditDep) -> Response:
    """Delete a model; 409 while one of your strategies uses it (by id, or as the last model for the
    symbol it names)."""
    await _models(runtime).delete(user.id, model_id)
    await audit.record(user, Action.MODEL_DELETED, ("model", model_id))
    return Response(status_code=204)
