"""`Query.node`: any object with a global id, under the rules of its own field."""

from __future__ import annotations

from typing import Annotated

import strawberry

from kassa.resolvers import nodes as node_resolvers
from kassa.schema.context import Info
from kassa.schema.relay import Node


@strawberry.type
class NodeQuery:
    @strawberry.field(
        description="Any object with an id, under the rules of its own field: null unless "
        "visible to the caller",
        graphql_type=Node | None,
    )
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Any Node's id")],
    ) -> object | None:
        return await node_resolvers.node(info.context, id)
