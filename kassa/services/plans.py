"""Recurring credit plans: the catalog's `[[plan]]` tables, kept in the database and at Stripe.

Each plan version is one Stripe Product (per code) and one recurring Price whose id kassa
derives from what it charges and grants, so that making them is idempotent across processes
and restarts, and a catalog change never alters what existing subscribers pay or receive.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from kassa.models import BillingInterval, CreditPlan
from kassa.money import Money
from kassa.services import deadline
from kassa.services.credits import catalog_document
from kassa.services.errors import DomainError, ErrorCode, check_storable
from kassa.services.stripe_gateway import RecurringPrice, StripeFailure, StripeGateway

log = logging.getLogger(__name__)

# Part of Stripe ids: letters, digits, dash and underscore only.
CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
# Start waits at most this long for Stripe; plans it could not make are made on first need.
START_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class PlanEntry:
    code: str
    name: str
    credits: int
    price: Money
    interval: BillingInterval

    @property
    def price_id(self) -> str:
        interval = self.interval.value.lower()
        return (
            f"kassa_{self.code}_{self.credits}c_{self.price.minor}{self.price.currency}_{interval}"
        )

    @property
    def product_id(self) -> str:
        return f"kassa_plan_{self.code}"


def read_plans(path: Path | None) -> list[PlanEntry]:
    """The catalog's recurring plans; a malformed one stops kassa from starting."""
    return [_entry(table) for table in catalog_document(path).get("plan", [])]


def _entry(table: dict[str, object]) -> PlanEntry:
    code, credits = str(table["code"]), int(str(table["credits"]))
    interval = str(table["interval"]).upper()
    if not CODE.fullmatch(code) or credits <= 0 or interval not in BillingInterval.__members__:
        raise ValueError(
            f"plan {code!r}: code is lower-case letters, digits, - and _; credits > 0; "
            "interval month or year"
        )
    return PlanEntry(
        code=code,
        name=str(table["name"]),
        credits=credits,
        price=Money.parse(str(table["price"]), str(table["currency"])),
        interval=BillingInterval(interval),
    )


async def sync_plans(entries: Sequence[PlanEntry]) -> None:
    """Make the plans on sale the catalog's; versions no longer in it stay (their
    subscribers keep being billed and credited by them), off sale."""
    async with in_transaction() as conn:
        await conn.execute_query(
            "UPDATE credit_plans SET active = false, updated_at = now() "
            "WHERE active AND stripe_price_id <> ALL($1::text[])",
            [[entry.price_id for entry in entries]],
        )
        for entry in entries:
            await conn.execute_query(
                "INSERT INTO credit_plans (stripe_price_id, code, name, credits, price, currency, "
                "interval, stripe_product_id, at_stripe, active, updated_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false, true, now()) "
                "ON CONFLICT (stripe_price_id) DO UPDATE SET name = $3, active = true, "
                "updated_at = now()",
                [
                    entry.price_id,
                    entry.code,
                    entry.name,
                    entry.credits,
                    entry.price.minor,
                    entry.price.currency,
                    entry.interval.value,
                    entry.product_id,
                ],
            )


async def keep_at_stripe(gateway: StripeGateway) -> None:
    """At start: the Product and Price of every plan on sale, made at Stripe unless there.
    Stripe being away delays nothing: subscribing makes a missing one first."""
    try:
        with deadline.within(START_SECONDS):
            for plan in await CreditPlan.filter(active=True, at_stripe=False):
                await ensure_at_stripe(plan, gateway)
    except StripeFailure as exc:
        log.warning("credit plans not made at Stripe yet (on first subscribe then): %s", exc)


async def ensure_at_stripe(plan: CreditPlan, gateway: StripeGateway) -> None:
    if plan.at_stripe:
        return
    await gateway.keep_recurring_price(
        RecurringPrice(
            product_id=plan.stripe_product_id,
            price_id=plan.stripe_price_id,
            name=plan.name,
            amount=plan.price,
            currency=plan.currency,
            interval=plan.interval.value.lower(),
        )
    )
    await CreditPlan.filter(stripe_price_id=plan.stripe_price_id).update(at_stripe=True)
    plan.at_stripe = True


async def on_sale() -> list[CreditPlan]:
    return await CreditPlan.filter(active=True).order_by("price", "code")


async def plan_on_sale(code: str, field: str) -> CreditPlan:
    check_storable(code, field)
    plan = await CreditPlan.get_or_none(code=code, active=True)
    if plan is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such credit plan on sale", field)
    return plan


async def version(stripe_price_id: str) -> CreditPlan | None:
    return await CreditPlan.get_or_none(stripe_price_id=stripe_price_id)


async def versions(stripe_price_ids: Sequence[str]) -> list[CreditPlan | None]:
    """Plan versions by Price id in the order asked, for a per-request DataLoader."""
    found = {
        plan.stripe_price_id: plan
        for plan in await CreditPlan.filter(stripe_price_id__in=list(stripe_price_ids))
    }
    return [found.get(key) for key in stripe_price_ids]


async def billed_by(conn: BaseDBAsyncClient, price_ids: Sequence[str]) -> CreditPlan | None:
    """The plan version an invoice charges for: of its lines' Prices, the first (largest
    charge) that is one of kassa's plans."""
    found = {
        plan.stripe_price_id: plan
        for plan in await CreditPlan.filter(stripe_price_id__in=list(price_ids)).using_db(conn)
    }
    return next((found[price] for price in price_ids if price in found), None)


def credits_for(plan: CreditPlan, charged: int) -> int:
    """Credits an invoice of `plan` grants for `charged` (minor units): in proportion to
    the plan's full price, rounded down. A full period's invoice grants the plan's credits;
    a proration invoice (a plan changed mid-period) only what it charged for, so an upgrade
    late in a period cannot buy the bigger plan's whole grant for a few days' price."""
    credits: int = plan.credits * min(charged, plan.price) // plan.price
    return credits
