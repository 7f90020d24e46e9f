"""Fields worked out from their parent object alone (an id, an amount, a card summary),
answered like plain attributes.

strawberry runs a field with a resolver through its whole machinery (an Info object, the
arguments parsed, field extensions chained) on every object; for a list of 50 rows that
was most of what kassa added to graphql-core's own work. A computed field is a plain
attribute to strawberry: graphql-core reads it through `compute(parent)` directly.
A field that needs the request's DataLoaders is `with_context`: graphql-core hands it the
context itself. Fields that take arguments keep their resolvers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLField, GraphQLObjectType, GraphQLSchema, GraphQLUnionType, get_named_type
from strawberry.annotation import StrawberryAnnotation
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


class _WithContext(StrawberryField):
    read: Callable[[Any, Any], object]

    def __copy__(self) -> _WithContext:
        copied = super().__copy__()
        copied.read = self.read
        return copied


def with_context(
    read: Callable[[Any, Any], object], *, graphql_type: object, description: str
) -> Any:
    """A field answered by `read(context, parent)` (a DataLoader's value, most often),
    without the Info object strawberry would build for it on every row."""

    def resolve(parent: strawberry.Parent[Any], info: strawberry.Info) -> object:
        return read(info.context, parent)

    field = _WithContext(
        type_annotation=StrawberryAnnotation.from_annotation(graphql_type), description=description
    )
    field.read = read
    return field(resolve)


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
            elif isinstance(field, _WithContext) and _plain(field, graphql_field):
                graphql_field.resolve = _context_read(field.read)


def _plain(field: StrawberryField, graphql_field: GraphQLField) -> bool:
    # Field extensions (permissions among them) and exception handlers (which turn a
    # DomainError into a union's UserError) need strawberry's own resolver.
    return not field.extensions and not isinstance(
        get_named_type(graphql_field.type), GraphQLUnionType
    )


def _context_read(read: Callable[[Any, Any], object]) -> Callable[..., object]:
    def context_read(source: Any, info: Any) -> object:
        return read(info.context, source)

    return context_read


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
