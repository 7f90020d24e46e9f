"""Custom scalars: `Decimal` carries exact amounts as JSON strings; `DateTime` is RFC 3339."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NewType

import strawberry
from graphql import IntValueNode, StringValueNode, ValueNode
from strawberry.types.scalar import ScalarDefinition

# Amounts travel as text end to end: parsing them into minor units is the domain's job
# (kassa.money), so a malformed amount becomes an INVALID_AMOUNT union error, not a crash.
DecimalText = NewType("DecimalText", str)


def _parse_decimal_text(value: object) -> DecimalText:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError('Decimal values are strings such as "25.00" (never floats)')
    return DecimalText(str(value))


def _parse_decimal_literal(node: ValueNode, variables: dict[str, object] | None = None) -> str:
    # The literal's own text: never through int(), which refuses very long digit strings.
    if isinstance(node, StringValueNode | IntValueNode):
        return DecimalText(node.value)
    raise ValueError('Decimal values are strings such as "25.00" (never floats)')


def _serialize_datetime(value: datetime) -> str:
    return _in_utc_if_naive(value).isoformat()


def _parse_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError('DateTime values are RFC 3339 strings such as "2026-11-28T14:05:00Z"')
    try:
        return _in_utc_if_naive(datetime.fromisoformat(value))
    except ValueError:
        raise ValueError(
            'DateTime values are RFC 3339 strings such as "2026-11-28T14:05:00Z"'
        ) from None


def _in_utc_if_naive(moment: datetime) -> datetime:
    # A moment without an offset is read as UTC, never as the server's local time.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


SCALARS: dict[object, ScalarDefinition] = {
    datetime: strawberry.scalar(
        name="DateTime",
        description='A moment as an RFC 3339 string: "2026-11-28T14:05:00Z". kassa answers '
        "in UTC; an input without an offset is read as UTC",
        specified_by_url="https://datatracker.ietf.org/doc/html/rfc3339",
        serialize=_serialize_datetime,
        parse_value=_parse_datetime,
    ),
    DecimalText: strawberry.scalar(
        name="Decimal",
        description='Exact decimal as a JSON string: "25.00", "1000" (JPY), "5.120" (KWD)',
        serialize=str,
        parse_value=_parse_decimal_text,
        parse_literal=_parse_decimal_literal,
    ),
}
