"""Filling a credit lot when a package's payment succeeds (used by the payment path)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient

from kassa.models import AccountKind, CreditLot, Payment, TransferKind
from kassa.services import ledger

CREDITS = "credits"
DEFAULT_EXPIRY_DAYS = 182


def credits_account(organization_id: uuid.UUID) -> ledger.AccountRef:
    return ledger.AccountRef(
        f"{AccountKind.CREDITS}@{organization_id}", AccountKind.CREDITS, CREDITS, organization_id
    )


CREDITS_ISSUED = ledger.AccountRef(
    AccountKind.CREDITS_ISSUED.value, AccountKind.CREDITS_ISSUED, CREDITS
)


async def fill_lot(conn: BaseDBAsyncClient, payment: Payment) -> None:
    """The lot a paid package fills, once (the lot is unique per payment)."""
    if payment.credits is None or await CreditLot.filter(payment=payment).using_db(conn).exists():
        return
    paid_at = payment.paid_at or datetime.now(UTC)
    organization_id: uuid.UUID = payment.organization_id  # type: ignore[attr-defined]
    await CreditLot.create(
        using_db=conn,
        organization_id=organization_id,
        payment=payment,
        credits=payment.credits,
        remaining=payment.credits,
        expires_at=paid_at + timedelta(days=payment.credit_expiry_days or DEFAULT_EXPIRY_DAYS),
    )
    await ledger.post_transfer(
        conn,
        ledger.Transfer(
            debit=CREDITS_ISSUED,
            credit=credits_account(organization_id),
            amount=payment.credits,
            kind=TransferKind.PURCHASE,
            idempotency_key=f"payment:{payment.id}:credits",
            payment_id=payment.id,
        ),
    )
