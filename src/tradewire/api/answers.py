"""What every route may answer besides its success, documented in one place (called for each route
by api/access.py `include`), so the OpenAPI schema says what the app really sends:

  401, 403   by the access rule (api/access.py)
  400        a route with a body that cannot be read as its media type (FastAPI's body parsing)
  404        a route whose path names a record (`NotFound`, api/errors.py)
  413        a route with a body: over the body bound (api/body_limit.py)
  422        a route with parameters or a body: the validation handler's field errors (api/app.py), or
             a use case's `Invalid` (api/errors.py) with its message as the detail
  429        the rate limit (api/limits.py, api/retry_later.py: its own body)

Every error answer a route declares without a body of its own (`responses={409: {}}`) gets ErrorOut,
`{"detail": "..."}`, the body api/errors.py, HTTPException and the body bound send.
"""

from __future__ import annotations

from typing import Any

from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    """An error answer's body."""

    detail: str = Field(description="what went wrong")


class FieldError(BaseModel):
    """One reason a request was refused: where (`loc`, e.g. ["body", "name"]) and what."""

    loc: list[str | int]
    msg: str
    type: str


class InvalidOut(BaseModel):
    """A 422's body: the request's field errors, or a use case's reason as text."""

    detail: list[FieldError] | str


_UNREADABLE = {"description": "the request body cannot be parsed"}
_NOT_FOUND = {"description": "no such record, or not yours"}
_TOO_LARGE = {"description": "the request body is over its bound"}
_INVALID = {"description": "the request is invalid: the fields at fault, or the reason"}


def document(route: APIRoute) -> None:
    """Add `route`'s generic error answers and give each error answer its body (idempotent)."""
    answers: dict[int | str, dict[str, Any]] = route.responses
    if any(name.endswith("_id") for name in route.param_convertors):
        answers.setdefault(404, dict(_NOT_FOUND))
    if route.body_field is not None:
        answers.setdefault(400, dict(_UNREADABLE))
        answers.setdefault(413, dict(_TOO_LARGE))
    if route.body_field is not None or get_flat_params(route.dependant):
        answers.setdefault(422, dict(_INVALID))
    for code, answer in answers.items():
        if str(code).isdigit() and int(code) >= 400 and "model" not in answer and "content" not in answer:
            answer["model"] = InvalidOut if int(code) == 422 else ErrorOut
