"""Contract models built from values that are already valid, through pydantic-core's public API.

``decide`` builds every event from a validated command and its case state (and ``route`` every
clock plan from a validated policy); validating those values again costs more than the rest of
the decision. :func:`builder` returns a constructor for one model class that skips the field
checks: a pydantic-core ``SchemaValidator`` of a ``model_schema`` whose fields are
``any_schema`` (with the fields' own defaults). pydantic-core then creates the instance exactly
as ``model_validate`` does (declaration order, the set of fields given, extra and private state
included), so nothing here reads or writes a model's internals, and a new pydantic release
cannot break it silently: ``tests/unit/domain/test_prevalidated.py`` checks, for every event
and the other models built this way, that the result equals the validated model.

Unknown field names are still refused. Never use a builder on untrusted input: decoding always
goes through ``parse_command``/``parse_event`` (full validation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import PydanticUndefined, SchemaValidator, core_schema

M = TypeVar("M", bound=BaseModel)


def _field(default: Any, factory: Callable[[], Any] | None) -> core_schema.ModelField:
    inner: core_schema.CoreSchema = core_schema.any_schema()
    if factory is not None:
        inner = core_schema.with_default_schema(inner, default_factory=factory)
    elif default is not PydanticUndefined:
        inner = core_schema.with_default_schema(inner, default=default)
    return core_schema.model_field(inner)


def builder(cls: type[M]) -> Callable[[dict[str, Any]], M]:
    """A constructor of ``cls`` from a dict of already valid field values (defaults filled in,
    unknown names refused, no other check)."""
    fields = {
        name: _field(info.default, info.default_factory)  # type: ignore[arg-type]
        for name, info in cls.model_fields.items()
    }
    schema = core_schema.model_schema(
        cls,
        core_schema.model_fields_schema(fields, extra_behavior="forbid"),
        extra_behavior="forbid",
    )
    return SchemaValidator(schema).validate_python  # type: ignore[no-any-return]
