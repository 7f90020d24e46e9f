"""Fields worked out from their parent object alone (an id, an amount, a card summary),
answered like plain attributes.

strawberry runs a field with a resolver through its whole machinery (an Info object, the
arguments parsed, field extensions chained) on every object; for a list of 50 rows that
was most of what kassa added to graphql-core's own work. A computed field is a plain
attribute to strawberry: graphql-core reads it through `compute(parent)` directly.
Fields that need the request (DataLoaders, the caller) keep their resolvers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField


class _Computed(StrawberryField):
    def __init__(self, *, compute: Callable[[Any], object] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.compute = compute
        # Never an argument of the type's constructor: the parent supplies it.
        self.init = False

    def get_result(self, source: Any, info: Any, args: list[Any], kwargs: Any) -> Any:
        assert self.compute is not None
        return self.compute(source)

    def __copy__(self) -> _Computed:
        # strawberry copies fields of generic types; the copy computes the same way.
        copied = super().__copy__()
        copied.compute = self.compute
        copied.init = False
        return copied


def computed(compute: Callable[[Any], object], *, description: str) -> Any:
    """A field answered by `compute(parent)`; its type is the annotation it is assigned to."""
    return _Computed(compute=compute, description=description)


def read_directly(schema: GraphQLSchema) -> None:
    """Give graphql-core each plain or computed field's read itself.

    strawberry answers such a field through three calls (its basic resolver, the field's
    `get_result`, then the attribute read or `compute`), for every field of every row;
    one call does the same. Fields strawberry did not take its basic path for (resolvers,
    field extensions, exception handlers) are left as they are.
    """
    for graphql_type in schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType):
            continue
        for graphql_field in graphql_type.fields.values():
            field = (graphql_field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            basic = getattr(graphql_field.resolve, "__name__", None) == "_get_basic_result"
            if isinstance(field, StrawberryField) and basic:
                graphql_field.resolve = _direct_read(field)


def _direct_read(field: StrawberryField) -> Callable[..., object]:
    if isinstance(field, _Computed) and field.compute is not None:
        compute = field.compute

        def computed_read(source: Any, info: Any) -> object:
            return compute(source)

        return computed_read
    name = field.python_name

    def attribute_read(source: Any, info: Any) -> object:
        return getattr(source, name)

    return attribute_read
