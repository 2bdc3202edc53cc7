"""Trusted construction and copying of frozen pydantic models, without re-validation.

``decide`` builds events from validated commands and ``evolve`` derives states from validated
events; re-validating there would dominate the cost. These helpers set ``__dict__`` directly
(pydantic's own ``model_construct``/``model_copy`` do the same, only slower). Never use them on
untrusted input: decoding always goes through ``parse_command``/``parse_event``.

The four instance slots every pydantic model has are written through their own descriptors
(``BaseModel.__dict__[slot].__set__``): the same effect as ``object.__setattr__``, without
looking the name up along the class hierarchy on every write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

M = TypeVar("M", bound=BaseModel)

_new = object.__new__
_SLOTS = BaseModel.__dict__
_set_dict = _SLOTS["__dict__"].__set__
_set_fields_set = _SLOTS["__pydantic_fields_set__"].__set__
_set_extra = _SLOTS["__pydantic_extra__"].__set__
_set_private = _SLOTS["__pydantic_private__"].__set__

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


def template_of(cls: type[BaseModel]) -> tuple[dict[str, Any], set[str]]:
    """The field template of a model without default factories, and its field-name set.

    For builders that fill a copy of the template themselves and hand it to :func:`adopt`.
    """
    template, names, factories = _TEMPLATES.get(cls) or _template(cls)
    if factories:
        raise TypeError(f"{cls.__name__} has default factories; use construct")
    return template, names


def adopt(cls: type[M], data: dict[str, Any], names: set[str]) -> M:
    """An instance of ``cls`` whose ``__dict__`` is ``data`` (every field, in declaration order)."""
    obj = _new(cls)
    _set_dict(obj, data)
    _set_fields_set(obj, names)
    _set_extra(obj, None)
    _set_private(obj, None)
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
    return adopt(cls, data, names)


def replace(model: M, update: dict[str, Any]) -> M:
    """A copy of ``model`` with ``update`` applied (trusted values, no validation)."""
    obj = _new(type(model))
    data = model.__dict__.copy()
    data.update(update)
    _set_dict(obj, data)
    _set_fields_set(obj, model.__pydantic_fields_set__)
    _set_extra(obj, None)
    _set_private(obj, None)
    return obj
