"""Keyset pagination shared by every growing list: newest first, stable under inserts.

Pagination is forward only (`first` / `after`). Relay's `hasPreviousPage` is answered
for that direction too, which the Relay spec leaves to the server: true when `after`
was given and some row comes before it (the row the cursor names, or a newer one);
false on a first page, where nothing can precede.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

import asyncpg
from tortoise.expressions import Q
from tortoise.fields import Field
from tortoise.models import Model
from tortoise.queryset import QuerySet

from kassa.db import fetch
from kassa.services.errors import DomainError, ErrorCode

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

T = TypeVar("T")
U = TypeVar("U")
ModelT = TypeVar("ModelT", bound=Model)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[tuple[str, T]]
    has_next_page: bool
    has_previous_page: bool = False

    @property
    def start_cursor(self) -> str | None:
        return self.items[0][0] if self.items else None

    @property
    def end_cursor(self) -> str | None:
        return self.items[-1][0] if self.items else None

    def map(self, to_item: Callable[[T], U]) -> Page[U]:
        """The same page, each item turned into another shape under the same cursor."""
        return Page(
            [(cursor, to_item(item)) for cursor, item in self.items],
            self.has_next_page,
            self.has_previous_page,
        )


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    if first < 0:
        raise DomainError(ErrorCode.INVALID_INPUT, "first must not be negative", "first")
    return min(first, MAX_PAGE_SIZE)


def encode_cursor(moment: datetime, row_id: uuid.UUID | str) -> str:
    raw = f"{moment.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def _position(cursor: str) -> tuple[datetime, str]:
    """The (time, id) a cursor names; INVALID_INPUT for anything else."""
    try:
        moment_text, _, row_id = base64.urlsafe_b64decode(cursor).decode().partition("|")
        moment = datetime.fromisoformat(moment_text).astimezone(UTC)
        if not row_id.isprintable() or not 0 < len(row_id) <= 255:
            raise ValueError("bad id")
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError) as exc:
        raise _bad_cursor() from exc
    return moment, row_id


def _bad_cursor() -> DomainError:
    return DomainError(ErrorCode.INVALID_INPUT, "after is not a valid cursor", "after")


def after_filter(cursor: str | None, id_field: Field[Any], time_field: str = "created_at") -> Q:
    """Rows strictly older than the cursor, in (time, id) descending order."""
    if not cursor:
        return Q()
    moment, row_id = _position(cursor)
    try:
        # An id the table's key cannot hold (no uuid, for most) names no position.
        position = id_field.to_python_value(row_id)
    except ValueError as exc:
        raise _bad_cursor() from exc
    older: dict[str, Any] = {f"{time_field}__lt": moment}
    same_moment: dict[str, Any] = {time_field: moment, "id__lt": position}
    return Q(**older) | Q(**same_moment)


async def paginate(
    query: QuerySet[ModelT], first: int | None, after: str | None, time_field: str = "created_at"
) -> Page[ModelT]:
    """A page of `query`, newest first, continuing after the cursor."""
    size = page_size(first)
    if size == 0:
        return Page([], False)
    following = after_filter(after, query.model._meta.pk, time_field)
    rows = await query.filter(following).order_by(f"-{time_field}", "-id").limit(size + 1)
    items = [(encode_cursor(getattr(row, time_field), row.pk), row) for row in rows]
    preceded = bool(after) and await query.filter(~following).exists()
    return Page(items[:size], len(items) > size, preceded)


class Dated(Protocol):
    @property
    def id(self) -> uuid.UUID: ...

    @property
    def created_at(self) -> datetime: ...


DatedT = TypeVar("DatedT", bound=Dated)


@dataclass(frozen=True, slots=True)
class RowQuery:
    """A list read in SQL: `SELECT {columns} {source}`, where `source` is the FROM and a
    WHERE over `alias`'s table (uuid `id`, `created_at`), with `args` as $1, $2, …"""

    columns: str
    source: str
    args: Sequence[object]
    alias: str


async def paginate_rows(
    query: RowQuery,
    first: int | None,
    after: str | None,
    to_item: Callable[[asyncpg.Record], DatedT],
) -> Page[DatedT]:
    """A page of `query`'s rows like `paginate`'s, in one statement (two after a cursor)."""
    size = page_size(first)
    if size == 0:
        return Page([], False)
    keyset, bounds = _keyset(query, after)
    rows = await fetch(
        f"SELECT {query.columns} {query.source}{keyset.format(op='<')} "
        f"ORDER BY {query.alias}.created_at DESC, {query.alias}.id DESC "
        f"LIMIT ${len(query.args) + len(bounds) + 1}",
        *query.args,
        *bounds,
        size + 1,
    )
    items = [(encode_cursor(item.created_at, item.id), item) for item in map(to_item, rows)]
    preceded = bool(bounds) and bool(
        (
            await fetch(
                f"SELECT EXISTS (SELECT 1 {query.source}{keyset.format(op='>=')})",
                *query.args,
                *bounds,
            )
        )[0][0]
    )
    return Page(items[:size], len(items) > size, preceded)


def _keyset(query: RowQuery, after: str | None) -> tuple[str, list[object]]:
    """The condition, to format with `op`, placing a row against the cursor's (time, id)."""
    if not after:
        return "", []
    moment, row_id = _position(after)
    try:
        position: list[object] = [moment, uuid.UUID(row_id)]
    except ValueError as exc:
        raise _bad_cursor() from exc
    first = len(query.args) + 1
    alias = query.alias
    return f" AND ({alias}.created_at, {alias}.id) {{op}} (${first}, ${first + 1})", position
