"""Relay's shapes: the Node interface, cursor connections, and the `first`/`after` arguments."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

import strawberry

from kassa.ids import IdKind, encode
from kassa.schema.computed import computed
from kassa.services.pagination import Page

T = TypeVar("T")

NODE_ID = "Opaque global id (org_…, pay_…); clients never build or parse it"

First = Annotated[
    int | None, strawberry.argument(description="How many rows: 20 when omitted, at most 100")
]
After = Annotated[
    str | None,
    strawberry.argument(description="Start after this cursor (the previous page's endCursor)"),
]


@strawberry.interface(description="An object with a global id, found again by Query.node")
class Node:
    id: strawberry.ID = strawberry.field(description=NODE_ID)


def global_id(kind: IdKind) -> Any:
    """The `id` field of a type shown over a row: its kind and the row's uuid."""

    def id_of(root: Any) -> strawberry.ID:
        return strawberry.ID(encode(kind, root.id))

    return computed(id_of, description=NODE_ID)


@strawberry.type(
    description="Where a page stands. Pagination runs forward only, newest first (first/after)"
)
class PageInfo:
    has_next_page: bool = strawberry.field(description="More rows follow: ask after endCursor")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last edge; null on an empty page"
    )
    has_previous_page: bool = strawberry.field(
        description="Rows come before this page: true when `after` was given and something "
        "precedes it, false on a first page"
    )
    start_cursor: str | None = strawberry.field(
        description="Cursor of the first edge; null on an empty page"
    )


@strawberry.type(description="One row of a page and where it stands")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Pass as `after` to continue behind this row")
    node: T = strawberry.field(description="The row")


@strawberry.type(description="A page of a list, newest first (Relay cursor connection)")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The rows of this page, newest first")
    page_info: PageInfo = strawberry.field(description="Where this page stands in the list")

    @classmethod
    def of(cls, page: Page[T]) -> Connection[T]:
        """The page as it is: its rows are the nodes (the node's type describes them)."""
        return cls(
            edges=[Edge(cursor=cursor, node=item) for cursor, item in page.items],
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=page.start_cursor,
                end_cursor=page.end_cursor,
            ),
        )
