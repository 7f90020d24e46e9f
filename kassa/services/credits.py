"""Prepaid credit packages: the catalog, buying a package, and the lots it fills.

A package is fulfilled only from the applied Stripe state of its payment: one lot
(credits, remaining, expires_at = paid_at + expiry days) and one ledger transfer
credits_issued → the organization's credits, in the transaction of the payment's success.
"""

from __future__ import annotations

import tomllib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from tortoise import connections

from kassa.models import (
    CreditLot,
    CreditPackage,
    Organization,
)
from kassa.money import Money
from kassa.services import organizations, payments
from kassa.services.errors import DomainError, ErrorCode
from kassa.services.identity import Caller
from kassa.services.stripe_gateway import StripeGateway

UNIT_PRICE_PLACES = Decimal("0.00000001")
DEFAULT_CATALOG = """
[[package]]
code = "trial"
name = "Trial"
credits = 500
price = "50.00"
currency = "cny"

[[package]]
code = "standard"
name = "Standard"
credits = 1100
price = "100.00"
currency = "cny"

[[package]]
code = "value"
name = "Value"
credits = 6000
price = "500.00"
currency = "cny"

[[package]]
code = "premium"
name = "Premium"
credits = 13000
price = "1000.00"
currency = "cny"
"""


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    code: str
    name: str
    credits: int
    price: Money


def read_catalog(path: Path | None) -> list[CatalogEntry]:
    """The catalog file (TOML, `[[package]]` tables), or the built-in one."""
    document = tomllib.loads(path.read_text() if path else DEFAULT_CATALOG)
    return [
        CatalogEntry(
            code=str(entry["code"]),
            name=str(entry["name"]),
            credits=int(entry["credits"]),
            price=Money.parse(str(entry["price"]), str(entry["currency"])),
        )
        for entry in document.get("package", [])
    ]


async def sync_catalog(entries: list[CatalogEntry]) -> None:
    """Make the database's packages the catalog's; packages gone from it are deactivated
    (never deleted: old payments keep naming them). Safe for several processes at once."""
    conn = connections.get("default")
    for entry in entries:
        await conn.execute_query(
            "INSERT INTO credit_packages (code, name, credits, price, currency, active, "
            "updated_at) VALUES ($1, $2, $3, $4, $5, true, now()) ON CONFLICT (code) DO UPDATE "
            "SET name = $2, credits = $3, price = $4, currency = $5, active = true, "
            "updated_at = now()",
            [entry.code, entry.name, entry.credits, entry.price.minor, entry.price.currency],
        )
    await CreditPackage.exclude(code__in=[entry.code for entry in entries]).update(active=False)


async def active_packages() -> list[CreditPackage]:
    return await CreditPackage.filter(active=True).order_by("price", "code")


def unit_price(package: CreditPackage) -> Decimal:
    """Price per credit in major units, exact to 8 places (no float anywhere)."""
    major = Money.of_minor(package.price, package.currency).to_decimal()
    return (major / Decimal(package.credits)).quantize(UNIT_PRICE_PLACES, ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class BuyCredits:
    organization_id: uuid.UUID | None
    package_code: str
    idempotency_key: str | None = None


async def buy_credits(
    caller: Caller, gateway: StripeGateway, request: BuyCredits, expiry_days: int
) -> payments.PaymentIntentCreated:
    organization = await organizations.require_visible(caller, request.organization_id)
    package = await CreditPackage.get_or_none(code=request.package_code, active=True)
    if package is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such credit package on sale", "packageCode")
    payments.check_idempotency_key(request.idempotency_key)
    payment = await payments.new_credit_payment(
        caller, organization, package, expiry_days, request.idempotency_key
    )
    card = await payments.default_card_id(organization)
    return await payments.attach_payment_intent(payment, organization, gateway, card)


async def spendable(organization: Organization, now: datetime | None = None) -> int:
    lots = await CreditLot.filter(
        organization=organization, expires_at__gt=now or datetime.now(UTC)
    )
    return sum(lot.remaining for lot in lots)


async def lots(organization: Organization) -> list[CreditLot]:
    return await CreditLot.filter(organization=organization).order_by("expires_at")
