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
