"""Payment statistics for an organization's owners and admins, computed in PostgreSQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from tortoise import connections

from kassa.models import Organization
from kassa.money import Money
from kassa.services import organizations
from kassa.services.errors import DomainError, ErrorCode
from kassa.services.identity import Caller

DEFAULT_PERIOD = timedelta(days=30)
LONGEST_PERIOD = timedelta(days=366)
RATE = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class StatusTotal:
    status: str
    currency: str
    count: int
    volume: Money


@dataclass(frozen=True, slots=True)
class DayTotal:
    day: date
    status: str
    currency: str
    count: int
    volume: Money


@dataclass(frozen=True, slots=True)
class CurrencySummary:
    currency: str
    succeeded: int
    volume: Money
    refunded: Money
    refund_rate: Decimal
    average_payment: Money


@dataclass(frozen=True, slots=True)
class PaymentStats:
    start: datetime
    end: datetime
    by_status: list[StatusTotal]
    by_day: list[DayTotal]
    currencies: list[CurrencySummary]


async def payment_stats(
    caller: Caller, organization: Organization, start: datetime | None, end: datetime | None
) -> PaymentStats:
    if not organizations.can_manage(caller, organization):
        raise DomainError(ErrorCode.FORBIDDEN, "payment statistics are for owners and admins")
    end = _in_utc(end, "to") if end else datetime.now(UTC)
    start = _in_utc(start, "from") if start else _period_before(end)
    if not start < end or end - start > LONGEST_PERIOD:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "from must be before to, at most 366 days apart", "from"
        )
    rows = await _daily_rows(organization.id, start, end)
    return PaymentStats(start, end, _by_status(rows), _by_day(rows), _currencies(rows))


def _in_utc(moment: datetime, field: str) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00+14:00 is still year 0 in UTC
        raise DomainError(
            ErrorCode.INVALID_INPUT, f"{field} is outside the years 1 to 9999 in UTC", field
        ) from exc


def _period_before(end: datetime) -> datetime:
    """The default period's start, clamped to the calendar's first instant."""
    earliest = datetime.min.replace(tzinfo=UTC)
    return end - DEFAULT_PERIOD if end - earliest > DEFAULT_PERIOD else earliest


Row = tuple[date, str, str, int, int, int]  # day, status, currency, count, amount, refunded


async def _daily_rows(organization_id: uuid.UUID, start: datetime, end: datetime) -> list[Row]:
    rows = await connections.get("default").execute_query_dict(
        "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, status, currency, "
        "count(*) AS n, sum(amount) AS amount, sum(amount_refunded) AS refunded "
        "FROM payments WHERE organization_id = $1 AND created_at >= $2 AND created_at < $3 "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        [organization_id, start, end],
    )
    return [
        (r["day"], r["status"], r["currency"], int(r["n"]), int(r["amount"]), int(r["refunded"]))
        for r in rows
    ]


def _by_day(rows: list[Row]) -> list[DayTotal]:
    return [
        DayTotal(day, status, currency, count, Money.of_minor(amount, currency))
        for day, status, currency, count, amount, _ in rows
    ]


def _by_status(rows: list[Row]) -> list[StatusTotal]:
    totals: dict[tuple[str, str], tuple[int, int]] = {}
    for _, status, currency, count, amount, _ in rows:
        seen_count, seen_amount = totals.get((status, currency), (0, 0))
        totals[(status, currency)] = (seen_count + count, seen_amount + amount)
    return [
        StatusTotal(status, currency, count, Money.of_minor(amount, currency))
        for (status, currency), (count, amount) in sorted(totals.items())
    ]


def _currencies(rows: list[Row]) -> list[CurrencySummary]:
    sums: dict[str, tuple[int, int, int]] = {}
    for _, status, currency, count, amount, refunded in rows:
        if status != "SUCCEEDED":
            continue
        seen = sums.get(currency, (0, 0, 0))
        sums[currency] = (seen[0] + count, seen[1] + amount, seen[2] + refunded)
    return [_summary(currency, *sums[currency]) for currency in sorted(sums)]


def _summary(currency: str, count: int, volume: int, refunded: int) -> CurrencySummary:
    average = (Decimal(volume) / count).quantize(Decimal(1), ROUND_HALF_EVEN)
    return CurrencySummary(
        currency=currency,
        succeeded=count,
        volume=Money.of_minor(volume, currency),
        refunded=Money.of_minor(refunded, currency),
        refund_rate=(Decimal(refunded) / Decimal(volume)).quantize(RATE, ROUND_HALF_EVEN),
        average_payment=Money.of_minor(int(average), currency),
    )
