from __future__ import annotations

from datetime import datetime

from kassa import models
from kassa.resolvers.errors import query_error
from kassa.schema import types as gql
from kassa.schema.scalars import DecimalText
from kassa.services import stats
from kassa.services.errors import DomainError


async def payment_stats(
    info: gql.Info,
    organization: models.Organization,
    start: datetime | None,
    end: datetime | None,
) -> gql.PaymentStats:
    try:
        found = await stats.payment_stats(info.context.require_caller(), organization, start, end)
    except DomainError as exc:
        raise query_error(exc) from exc
    return gql.PaymentStats(
        from_=found.start,
        to=found.end,
        by_status=[
            gql.PaymentStatusTotal(
                status=models.PaymentStatus(total.status),
                currency=total.currency,
                count=total.count,
                volume=gql.Money.of(total.volume),
            )
            for total in found.by_status
        ],
        by_day=[
            gql.PaymentDayTotal(
                day=total.day.isoformat(),
                status=models.PaymentStatus(total.status),
                currency=total.currency,
                count=total.count,
                volume=gql.Money.of(total.volume),
            )
            for total in found.by_day
        ],
        currencies=[_summary(summary) for summary in found.currencies],
    )


def _summary(summary: stats.CurrencySummary) -> gql.CurrencyPaymentSummary:
    return gql.CurrencyPaymentSummary(
        currency=summary.currency,
        succeeded_count=summary.succeeded,
        volume=gql.Money.of(summary.volume),
        refunded=gql.Money.of(summary.refunded),
        refund_rate=DecimalText(str(summary.refund_rate)),
        average_payment=gql.Money.of(summary.average_payment),
    )
