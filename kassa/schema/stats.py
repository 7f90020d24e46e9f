"""Payment statistics: an organization's payments added up by status, day and currency."""

from __future__ import annotations

from datetime import datetime

import strawberry

from kassa import models
from kassa.resolvers import stats as stats_resolvers
from kassa.schema.context import Info
from kassa.schema.money import Money
from kassa.schema.scalars import DecimalText
from kassa.services import stats


@strawberry.type(description="Payments of one status in one currency")
class PaymentStatusTotal:
    status: models.PaymentStatus = strawberry.field(description="Their status")
    currency: str = strawberry.field(description="Their currency")
    count: int = strawberry.field(description="How many")
    volume: Money = strawberry.field(description="Their amounts added up")


@strawberry.type(description="Payments of one day, status and currency")
class PaymentDayTotal:
    day: str = strawberry.field(description="YYYY-MM-DD, UTC")
    status: models.PaymentStatus = strawberry.field(description="Their status")
    currency: str = strawberry.field(description="Their currency")
    count: int = strawberry.field(description="How many")
    volume: Money = strawberry.field(description="Their amounts added up")


@strawberry.type(description="Succeeded payments in one currency")
class CurrencyPaymentSummary:
    currency: str = strawberry.field(description="The currency")
    succeeded_count: int = strawberry.field(description="How many payments succeeded")
    volume: Money = strawberry.field(description="What they brought in")
    refunded: Money = strawberry.field(description="What of it was refunded")
    refund_rate: DecimalText = strawberry.field(description="refunded / volume, 4 places")
    average_payment: Money = strawberry.field(description="volume / succeededCount")

    @classmethod
    def of(cls, summary: stats.CurrencySummary) -> CurrencyPaymentSummary:
        return cls(
            currency=summary.currency,
            succeeded_count=summary.succeeded,
            volume=Money.of(summary.volume),
            refunded=Money.of(summary.refunded),
            refund_rate=DecimalText(str(summary.refund_rate)),
            average_payment=Money.of(summary.average_payment),
        )


@strawberry.type(description="An organization's payments added up over a time range")
class PaymentStats:
    from_: datetime = strawberry.field(name="from", description="Start of the range, included")
    to: datetime = strawberry.field(description="End of the range, excluded")
    by_status: list[PaymentStatusTotal] = strawberry.field(description="Totals per status")
    by_day: list[PaymentDayTotal] = strawberry.field(description="Totals per UTC day")
    currencies: list[CurrencyPaymentSummary] = strawberry.field(
        description="Succeeded and refunded per currency"
    )

    @classmethod
    def of(cls, found: stats.PaymentStats) -> PaymentStats:
        return cls(
            from_=found.start,
            to=found.end,
            by_status=[
                PaymentStatusTotal(
                    status=models.PaymentStatus(total.status),
                    currency=total.currency,
                    count=total.count,
                    volume=Money.of(total.volume),
                )
                for total in found.by_status
            ],
            by_day=[
                PaymentDayTotal(
                    day=total.day.isoformat(),
                    status=models.PaymentStatus(total.status),
                    currency=total.currency,
                    count=total.count,
                    volume=Money.of(total.volume),
                )
                for total in found.by_day
            ],
            currencies=[CurrencyPaymentSummary.of(summary) for summary in found.currencies],
        )


async def payment_stats(
    info: Info, organization: models.Organization, start: datetime | None, end: datetime | None
) -> PaymentStats:
    found = await stats_resolvers.payment_stats(info.context, organization, start, end)
    return PaymentStats.of(found)
