"""Prepaid credit packages: the catalog, buying a package, and the lots it fills.

A package is fulfilled only from the applied Stripe state of its payment: one lot
(credits, remaining, expires_at = paid_at + expiry days) and one ledger transfer
credits_issued → the organization's credits, in the transaction of the payment's success.
"""

from __future__ import annotations

import tomllib
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction

from kassa.models import (
    CreditLot,
    CreditPackage,
    LedgerTransfer,
    Organization,
    TransferKind,
)
from kassa.money import Money
from kassa.services import clock, credit_lots, ledger, organizations, payments, saved_cards
from kassa.services.addresses import check_email
from kassa.services.errors import DomainError, ErrorCode, check_reason, check_storable
from kassa.services.identity import Caller
from kassa.services.pagination import Page
from kassa.services.stripe_gateway import StripeGateway

UNIT_PRICE_PLACES = Decimal("0.00000001")
# One call spends at most this many; more is surely a bug in the caller.
MAX_CREDITS_PER_CALL = 1_000_000_000
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

[[plan]]
code = "trial-monthly"
name = "体验包 Trial"
credits = 500
price = "50.00"
currency = "cny"
interval = "month"

[[plan]]
code = "standard-monthly"
name = "标准包 Standard"
credits = 1100
price = "100.00"
currency = "cny"
interval = "month"

[[plan]]
code = "value-monthly"
name = "超值包 Value"
credits = 6000
price = "500.00"
currency = "cny"
interval = "month"

[[plan]]
code = "premium-monthly"
name = "豪华包 Premium"
credits = 13000
price = "1000.00"
currency = "cny"
interval = "month"
"""


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    code: str
    name: str
    credits: int
    price: Money


def catalog_document(path: Path | None) -> dict[str, Any]:
    """The catalog file (TOML: `[[package]]` and `[[plan]]` tables), or the built-in one."""
    return tomllib.loads(path.read_text() if path else DEFAULT_CATALOG)


def read_catalog(path: Path | None) -> list[CatalogEntry]:
    """The catalog's one-off packages."""
    document = catalog_document(path)
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


async def package_on_sale(code: str, field: str) -> CreditPackage:
    check_storable(code, field)
    package = await CreditPackage.get_or_none(code=code, active=True)
    if package is None:
        raise DomainError(ErrorCode.NOT_FOUND, "no such credit package on sale", field)
    return package


@dataclass(frozen=True, slots=True)
class BuyCredits:
    organization_id: uuid.UUID | None
    package_code: str
    idempotency_key: str | None = None
    receipt_email: str | None = None
    payment_method_id: str | None = None


async def buy_credits(
    caller: Caller, gateway: StripeGateway, request: BuyCredits, expiry_days: int
) -> payments.PaymentIntentCreated:
    organization = await organizations.require_visible(caller, request.organization_id)
    package = await package_on_sale(request.package_code, "packageCode")
    payments.check_idempotency_key(request.idempotency_key)
    check_email(request.receipt_email, "receiptEmail")
    named = await saved_cards.stripe_payment_method(organization, request.payment_method_id)
    payment = await payments.new_credit_payment(
        caller,
        organization,
        package,
        expiry_days,
        request.idempotency_key,
        request.receipt_email,
        payment_method_id=named,
    )
    card = named or await payments.default_card_id(organization)
    return await payments.attach_payment_intent(payment, organization, gateway, card)


@dataclass(frozen=True, slots=True)
class ConsumeCredits:
    organization_id: uuid.UUID | None
    credits: int
    reason: str
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class Consumed:
    transaction: CreditEntry
    balance: int


async def consume_credits(caller: Caller, request: ConsumeCredits) -> Consumed:
    """Spend credits (any member of the organization); atomic and idempotent by key."""
    organization = await organizations.require_visible(caller, request.organization_id)
    _check_consumption(request)
    async with in_transaction() as conn:
        transfer_id = await credit_lots.consume(
            conn,
            credit_lots.Consumption(
                organization.id, request.credits, request.reason, request.idempotency_key
            ),
            clock.now(),
        )
    transfer = await LedgerTransfer.get(id=transfer_id)
    account_id = transfer.debit_account_id  # type: ignore[attr-defined]
    return Consumed(_entry(transfer, account_id), await spendable(organization))


def _check_consumption(request: ConsumeCredits) -> None:
    if not 0 < request.credits <= MAX_CREDITS_PER_CALL:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"credits is a whole number from 1 to {MAX_CREDITS_PER_CALL}",
            "credits",
        )
    check_reason(request.reason)
    payments.check_idempotency_key(request.idempotency_key)


@dataclass(frozen=True, slots=True)
class CreditState:
    balance: int  # what can be spent now: unexpired lots less the credit debt (may be < 0)
    lots: list[CreditLot]  # every lot, soonest-expiring first


async def state(organization: Organization) -> CreditState:
    lots = await CreditLot.filter(organization=organization).order_by("expires_at")
    debt = int((await Organization.get(id=organization.id)).credit_debt)
    now = clock.now()
    spendable = sum(int(lot.remaining) for lot in lots if lot.expires_at > now)
    return CreditState(spendable - debt, lots)


async def spendable(organization: Organization) -> int:
    return (await state(organization)).balance


async def expire_due(now: datetime, batch: int = 500) -> int:
    """Expire every lot due by `now`, one organization per transaction; credits expired."""
    expired = 0
    for organization_id in await credit_lots.organizations_with_due_lots(now, batch):
        async with in_transaction() as conn:
            await credit_lots.lock_credits(conn, organization_id)
            expired += await credit_lots.expire_organization(conn, organization_id, now)
    return expired


@dataclass(frozen=True, slots=True)
class CreditEntry:
    """One transfer as the organization's credits see it: signed credits and balance after."""

    id: uuid.UUID
    kind: TransferKind
    credits: int
    balance_after: int
    reason: str | None
    payment_id: uuid.UUID | None
    created_at: datetime


async def entries(
    organization: Organization, first: int | None, after: str | None
) -> Page[CreditEntry]:
    account = credit_lots.credits_account(organization.id)
    account_id, page = await ledger.history(account, first, after)
    return page.map(lambda row: _entry(row, account_id))


def _entry(row: LedgerTransfer, account_id: int) -> CreditEntry:
    credits, balance_after = ledger.as_seen_by(row, account_id)
    return CreditEntry(
        id=row.id,
        kind=row.kind,
        credits=credits,
        balance_after=balance_after,
        reason=row.reason,
        payment_id=row.payment_id,  # type: ignore[attr-defined]
        created_at=row.created_at,
    )
