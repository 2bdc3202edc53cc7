"""Trusted construction and copying of frozen pydantic models, without re-validation.

``decide`` builds events from validated commands and ``evolve`` derives states from validated
events; re-validating there would dominate the cost. These helpers set ``__dict__`` directly
(pydantic's own ``model_construct``/``model_copy`` do the same, only slower). Never use them on
untrusted input: decoding always goes through ``parse_command``/``parse_event``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

M = TypeVar("M", bound=BaseModel)

_set = object.__setattr__
Template = tuple[dict[str, Any], set[str], tuple[tuple[str, Callable[[], Any]], ...]]
_TEMPLATES: dict[type[BaseModel], Template] = {}


def _template(cls: type[BaseModel]) -> Template:
    """Every field in declaration order with its plain default (None for required ones)."""
    found = _TEMPLATES.get(cls)
    if found is None:
        fields = cls.model_fields
        template = {
            name: None if field.default is PydanticUndefined else field.default
            for name, field in fields.items()
        }
        factories = tuple(
            (name, cast(Callable[[], Any], field.default_factory))
            for name, field in fields.items()
            if field.default_factory is not None
        )
        found = (template, set(fields), factories)
        _TEMPLATES[cls] = found
    return found


def construct_from(cls: type[M], values: dict[str, Any], extra: dict[str, Any]) -> M:
    """Like ``construct`` from two dicts (no keyword re-packing; for the hottest path)."""
    template, names, factories = _TEMPLATES.get(cls) or _template(cls)
    data = template.copy()
    data.update(values)
    data.update(extra)
    for name, factory in factories:
        if name not in data or data[name] is None:
            data[name] = factory()
    obj = cls.__new__(cls)
    _set(obj, "__dict__", data)
    _set(obj, "__pydantic_fields_set__", names)
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


def construct(cls: type[M], **values: Any) -> M:
    """An instance of ``cls`` from trusted ``values``; missing fields take their plain default.

    Fields keep their declaration order, so the JSON equals that of a validated instance.
    """
    template, names, factories = _TEMPLATES.get(cls) or _template(cls)
    data = template.copy()
    data.update(values)
    for name, factory in factories:
        if name not in values:
            data[name] = factory()
    obj = cls.__new__(cls)
    _set(obj, "__dict__", data)
    _set(obj, "__pydantic_fields_set__", names)
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


def replace(model: M, update: dict[str, Any]) -> M:
    """A copy of ``model`` with ``update`` applied (trusted values, no validation)."""
    cls = type(model)
    obj = cls.__new__(cls)
    data = model.__dict__.copy()
    data.update(update)
    _set(obj, "__dict__", data)
    _set(obj, "__pydantic_fields_set__", model.__pydantic_fields_set__)
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj
