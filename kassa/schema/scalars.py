"""Custom scalars: `Decimal` carries exact amounts as JSON strings."""

from __future__ import annotations

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


SCALARS: dict[object, ScalarDefinition] = {
    DecimalText: strawberry.scalar(
        name="Decimal",
        description='Exact decimal as a JSON string: "25.00", "1000" (JPY), "5.120" (KWD)',
        serialize=str,
        parse_value=_parse_decimal_text,
        parse_literal=_parse_decimal_literal,
    )
}
