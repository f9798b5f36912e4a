"""The use cases' errors as HTTP answers: NotFound 404, Conflict 409, Invalid 422, Forbidden 403,
Unavailable 503, each with its message as the detail."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from tradewire.api.fields import printable
from tradewire.domain.members import Conflict, Forbidden, Invalid, NotFound, Unavailable
from tradewire.services.members.accounts import UnknownExchange

_STATUS: dict[type[Exception], int] = {
    NotFound: status.HTTP_404_NOT_FOUND,
    Conflict: status.HTTP_409_CONFLICT,
    Invalid: 422,
    Forbidden: status.HTTP_403_FORBIDDEN,
    Unavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
}


def install_error_answers(app: FastAPI) -> None:
    """Answer the domain's errors raised by any route with their status and message."""
    for kind, code in _STATUS.items():
        app.add_exception_handler(kind, _answer(code))
    app.add_exception_handler(UnknownExchange, _unknown_exchange)


def _answer(code: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def answer(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=code, content={"detail": str(exc)})

    return answer


async def _unknown_exchange(_request: Request, exc: Exception) -> JSONResponse:
    # Answered like the body's own validation errors (as when the check was part of the schema).
    detail = [{"loc": ["body"], "msg": printable(f"Value error, {exc}"), "type": "value_error"}]
    return JSONResponse(status_code=422, content={"detail": detail})
