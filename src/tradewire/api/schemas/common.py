"""What every body shares: strict request models, money as decimal strings, slug and symbol formats."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, PlainSerializer, model_validator

from tradewire.api.fields import check_body
from tradewire.domain.money import fmt

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_Request = TypeVar("_Request", bound="DataclassInstance")

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")


SYMBOL = re.compile(r"^[A-Z0-9]{1,16}/[A-Z0-9]{1,16}(:[A-Z0-9]{1,16})?$")


def _plain(value: Decimal) -> str:
    return fmt(value) or "0"


# Money in responses: an exact decimal string without exponent ("10000", never "1E+4").
Money = Annotated[Decimal, PlainSerializer(_plain, return_type=str, when_used="json")]


class Strict(BaseModel):
    """Every request body: unknown fields refused, and no text, nesting or size storage cannot hold."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        return check_body(data)


def request_of(body: BaseModel, kind: type[_Request], **given: Any) -> _Request:
    """`kind` (a service's request dataclass) from the body's fields of the same names; `given` sets
    the others, or those that need converting."""
    names = {f.name for f in dataclasses.fields(kind)} - given.keys()
    return kind(**{name: value for name, value in body if name in names}, **given)
