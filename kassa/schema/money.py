"""Money as the schema shows it: an exact decimal text and a currency."""

from __future__ import annotations

import strawberry

from kassa.money import Money as DomainMoney
from kassa.money import format_minor, normalize_currency
from kassa.schema.scalars import DecimalText


@strawberry.type(description="An exact amount of money")
class Money:
    amount: DecimalText = strawberry.field(
        description='In major units, exact: "25.00" (USD), "1000" (JPY), "5.120" (KWD)'
    )
    currency: str = strawberry.field(description="Lower-case ISO 4217 code, as Stripe uses: usd")

    @classmethod
    def of(cls, money: DomainMoney) -> Money:
        return cls(amount=DecimalText(money.format()), currency=money.currency)

    @classmethod
    def of_minor(cls, minor: int, currency: str) -> Money:
        return cls(
            amount=DecimalText(format_minor(minor, currency)), currency=normalize_currency(currency)
        )
