from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from kassa.services.pagination import Page

if TYPE_CHECKING:
    from kassa.schema import types as gql

Item = TypeVar("Item")
NodeType = TypeVar("NodeType")


def connection(page: Page[Item], to_node: Callable[[Item], NodeType]) -> gql.Connection[NodeType]:
    # Imported here: the schema's types import the resolvers that call this.
    from kassa.schema import types as gql

    return gql.Connection(
        edges=[gql.Edge(cursor=cursor, node=to_node(item)) for cursor, item in page.items],
        page_info=gql.PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.start_cursor,
            end_cursor=page.end_cursor,
        ),
    )
