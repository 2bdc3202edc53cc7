"""Date-time query parameters as the OpenAPI document says: RFC 3339 strings only.

pydantic also reads numbers as Unix timestamps (``?until=0.5`` was 1970-01-01T00:00:00.5Z), which
``format: date-time`` does not allow and no caller means; such values are refused with 422.
"""

from __future__ import annotations

import re
import types
import typing
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator
from pydantic_core import PydanticCustomError

RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?",
    re.ASCII,
)
"""RFC 3339 ``date-time``; without the offset it is refused by ``AwareDatetime`` (which says
that the offset is missing, a clearer message)."""


def rfc3339_only(value: Any) -> Any:
    """Let through datetimes, RFC 3339 strings and None (an optional field left empty); refuse
    numbers and other spellings."""
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str) and RFC3339.fullmatch(value):
        return value
    raise PydanticCustomError("datetime_parsing", "Input should be an RFC 3339 date-time")


Instant = Annotated[AwareDatetime, BeforeValidator(rfc3339_only)]
"""An instant with its offset, e.g. ``2026-11-26T09:30:00+08:00``."""


def rfc3339_field(annotation: Any) -> Any:
    """``annotation`` refusing what ``rfc3339_only`` refuses when it is a datetime, optional or
    not (command bodies: ``{"at": 0}`` was a joint action in 1970)."""
    options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else ()
    if {annotation, *options} & {datetime, AwareDatetime}:
        return Annotated[annotation, BeforeValidator(rfc3339_only)]
    return annotation
