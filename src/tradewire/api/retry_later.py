"""The answer to a request refused for now (429): when to try again, in seconds (and the Retry-After
header) and as a time."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field


class RetryLater(Exception):
    """Too many requests: `retry_after_s` from `now`; `headers` are added to the answer."""

    def __init__(
        self, message: str, retry_after_s: int, now: datetime, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = max(1, retry_after_s)
        self.retry_at = now + timedelta(seconds=self.retry_after_s)
        self.headers = headers or {}


class RetryLaterOut(BaseModel):
    """A 429's body."""

    detail: str
    retry_after_s: int = Field(description="seconds to wait (also in the Retry-After header)")
    retry_at: datetime = Field(description="the earliest time to try again")


# For `responses=` of the operations that may answer 429.
TOO_MANY_REQUESTS: dict[int | str, dict[str, object]] = {
    429: {
        "model": RetryLaterOut,
        "description": "Too many requests: retry after the time given (Retry-After, in seconds)",
    }
}


async def _answer(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RetryLater)
    body = RetryLaterOut(detail=exc.message, retry_after_s=exc.retry_after_s, retry_at=exc.retry_at)
    headers = {**exc.headers, "Retry-After": str(exc.retry_after_s)}
    return JSONResponse(status_code=429, content=body.model_dump(mode="json"), headers=headers)


def install_retry_later(app: FastAPI) -> None:
    app.add_exception_handler(RetryLater, _answer)
