"""Domain enums shown in the schema as they are, with a description for each value."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, EnumMeta
from typing import TypeVar

import strawberry
from strawberry.types.enum import StrawberryEnumDefinition

E = TypeVar("E", bound=Enum)


def describe_enum(
    cls: EnumMeta, description: str, values: Mapping[str, str], *, name: str | None = None
) -> None:
    """Register `cls` (defined outside the schema, so its members cannot carry
    `strawberry.enum_value`) and describe each value; one left out stays undescribed,
    which the schema's description test reports."""
    strawberry.enum(cls, name=name, description=description)
    definition = getattr(cls, "__strawberry_definition__", None)
    assert isinstance(definition, StrawberryEnumDefinition)
    for value in definition.values:
        value.description = values.get(value.name)


def known(cls: type[E], value: str) -> E | None:
    """The member of `cls` whose value is `value`; None for one kassa does not know."""
    try:
        return cls(value)
    except ValueError:
        return None
