"""An organization's credits: lots filled by purchases, spent soonest-expiring first,
expired on time, clawed back on refund.

Every change to one organization's credits first locks that organization's row (FOR NO KEY
UPDATE) and only then touches lots and ledger rows, so consumers, expiry, purchases and
refunds of one organization take turns and can never overspend. The ledger account
`credits@<organization>` always equals the lots' remaining credits minus the credit debt.

Clawback policy (README): refunding a credit purchase takes back ceil(credits * refunded /
paid) credits of its lot, cumulative over partial refunds. Credits of that lot that already
expired count towards it (they can no longer be spent). The rest comes from the lot's
remaining credits, then from the organization's other lots, soonest-expiring first; what
is still missing becomes the credit debt, which the next purchase pays off first. Each
part taken is recorded, so a refund Stripe reverses gives back exactly those parts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient

from kassa.models import (
    AccountKind,
    CreditClawbackPart,
    CreditLot,
    Payment,
    TransferKind,
)
from kassa.services import clock, ledger
from kassa.services.errors import DomainError, ErrorCode

CREDITS = "credits"
DEFAULT_EXPIRY_DAYS = 182


def credits_account(organization_id: uuid.UUID) -> ledger.AccountRef:
    return ledger.AccountRef(
        f"{AccountKind.CREDITS}@{organization_id}", AccountKind.CREDITS, CREDITS, organization_id
    )


def _system_account(kind: AccountKind) -> ledger.AccountRef:
    return ledger.AccountRef(kind.value, kind, CREDITS)


CREDITS_ISSUED = _system_account(AccountKind.CREDITS_ISSUED)
CREDITS_CONSUMED = _system_account(AccountKind.CREDITS_CONSUMED)
CREDITS_EXPIRED = _system_account(AccountKind.CREDITS_EXPIRED)
CREDITS_CLAWED_BACK = _system_account(AccountKind.CREDITS_CLAWED_BACK)


async def lock_credits(conn: BaseDBAsyncClient, organization_id: uuid.UUID) -> int:
    """Take the organization's credit lock for this transaction; its credit debt."""
    rows = await conn.execute_query_dict(
        "SELECT credit_debt FROM organizations WHERE id = $1 FOR NO KEY UPDATE",
        [organization_id],
    )
    return int(rows[0]["credit_debt"])


async def _set_debt(conn: BaseDBAsyncClient, organization_id: uuid.UUID, debt: int) -> None:
    await conn.execute_query(
        "UPDATE organizations SET credit_debt = $2 WHERE id = $1", [organization_id, debt]
    )


async def fill_lot(conn: BaseDBAsyncClient, payment: Payment) -> None:
    """The lot a paid package fills, once (the lot is unique per payment)."""
    if payment.credits is None:
        return
    organization_id: uuid.UUID = payment.organization_id  # type: ignore[attr-defined]
    debt = await lock_credits(conn, organization_id)
    if await CreditLot.filter(payment=payment).using_db(conn).exists():
        return
    paid_off = min(debt, payment.credits)
    paid_at = payment.paid_at or clock.now()
    await CreditLot.create(
        using_db=conn,
        organization_id=organization_id,
        payment=payment,
        credits=payment.credits,
        remaining=payment.credits - paid_off,
        debt_paid=paid_off,
        expires_at=paid_at + timedelta(days=payment.credit_expiry_days or DEFAULT_EXPIRY_DAYS),
    )
    if paid_off:
        await _set_debt(conn, organization_id, debt - paid_off)
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


@dataclass(frozen=True, slots=True)
class Consumption:
    organization_id: uuid.UUID
    credits: int
    reason: str
    idempotency_key: str

    @property
    def ledger_key(self) -> str:
        return ledger.client_key(
            credits_account(self.organization_id).key, "consume", self.idempotency_key
        )


async def consume(conn: BaseDBAsyncClient, request: Consumption, now: datetime) -> uuid.UUID:
    """Spend credits from unexpired lots, soonest-expiring first; the CONSUME transfer's id.
    The same idempotency key returns the first consumption's transfer."""
    debt = await lock_credits(conn, request.organization_id)
    earlier = await ledger.repeated(
        conn, request.ledger_key, request.credits, CREDITS, request.reason, "consumption"
    )
    if earlier is not None:
        return earlier.id
    lots = await _spendable_lots(conn, request.organization_id, now)
    available = sum(lot.remaining for lot in lots) - debt
    if available < request.credits:
        raise DomainError(
            ErrorCode.INSUFFICIENT_CREDITS,
            f"{max(available, 0)} credits can be spent, {request.credits} were asked for",
            "credits",
        )
    await _take(conn, lots, request.credits, spent=True)
    posted = await ledger.post_transfer(
        conn,
        ledger.Transfer(
            debit=credits_account(request.organization_id),
            credit=CREDITS_CONSUMED,
            amount=request.credits,
            kind=TransferKind.CONSUME,
            idempotency_key=request.ledger_key,
            reason=request.reason,
        ),
    )
    return posted.transfer_id


async def _spendable_lots(
    conn: BaseDBAsyncClient, organization_id: uuid.UUID, now: datetime
) -> list[CreditLot]:
    return (
        await CreditLot.filter(organization_id=organization_id, expires_at__gt=now, remaining__gt=0)
        .using_db(conn)
        .order_by("expires_at", "id")
    )


async def _take(
    conn: BaseDBAsyncClient, lots: list[CreditLot], credits: int, *, spent: bool
) -> dict[uuid.UUID, int]:
    """Take up to `credits` from `lots` in order; what was taken from which lot."""
    parts: dict[uuid.UUID, int] = {}
    for lot in lots:
        if credits == 0:
            break
        taken = min(lot.remaining, credits)
        if taken == 0:
            continue
        # Relative and guarded, not a write of what was read: even a caller that forgot
        # the credit lock could not take a credit twice.
        rows = await conn.execute_query_dict(
            "UPDATE credit_lots SET remaining = remaining - $2, consumed = consumed + $3 "
            "WHERE id = $1 AND remaining >= $2 RETURNING remaining",
            [lot.id, taken, taken if spent else 0],
        )
        if not rows:
            raise RuntimeError(f"credit lot {lot.id} changed under the credit lock")
        lot.remaining = int(rows[0]["remaining"])
        parts[lot.id] = taken
        credits -= taken
    return parts


async def expire_organization(
    conn: BaseDBAsyncClient, organization_id: uuid.UUID, now: datetime
) -> int:
    """Expire the organization's lots that are due (caller holds its credit lock); how many
    credits expired. Each lot's credits move to `credits_expired` in an EXPIRE transfer."""
    due = (
        await CreditLot.filter(
            organization_id=organization_id, expires_at__lte=now, remaining__gt=0
        )
        .using_db(conn)
        .order_by("expires_at", "id")
    )
    expired = 0
    for lot in due:
        expiring, lot.remaining = lot.remaining, 0
        expired += expiring
        lot.expired += expiring
        await lot.save(using_db=conn, update_fields=["remaining", "expired"])
        await ledger.post_transfer(
            conn,
            ledger.Transfer(
                debit=credits_account(organization_id),
                credit=CREDITS_EXPIRED,
                amount=expiring,
                kind=TransferKind.EXPIRE,
                idempotency_key=f"credit_lot:{lot.id}:expired:{lot.expired}",
                payment_id=lot.payment_id,  # type: ignore[attr-defined]
            ),
        )
    return expired


async def organizations_with_due_lots(now: datetime, limit: int) -> list[uuid.UUID]:
    ids = (
        await CreditLot.filter(expires_at__lte=now, remaining__gt=0)
        .distinct()
        .limit(limit)
        .values_list("organization_id", flat=True)
    )
    return [uuid.UUID(str(found)) for found in ids]


def clawback_owed(lot: CreditLot, refunded: int, paid: int) -> int:
    """What refunding `refunded` of `paid` still takes back from the lot: ceil(credits *
    refunded / paid), less what was taken already and what expired unspent."""
    credits = int(lot.credits)
    due = min(-(-credits * refunded // paid), credits) if paid > 0 else 0
    return max(0, due - int(lot.clawback_taken) - int(lot.expired))


async def require_clawback_covered(
    conn: BaseDBAsyncClient, payment: Payment, refunded: int, now: datetime
) -> None:
    """CREDITS_ALREADY_CONSUMED when the lot no longer holds what refunding up to
    `refunded` takes back (checked before a refund is sent to Stripe)."""
    lot = await _lot_of(conn, payment, now)
    if lot is None:
        return
    owed = clawback_owed(lot, refunded, payment.amount)
    if owed > lot.remaining:
        raise DomainError(
            ErrorCode.CREDITS_ALREADY_CONSUMED,
            f"this refund takes back {owed} credits and only {lot.remaining} are left of the "
            "purchase; an owner or admin may pass allowNegativeBalance",
            "amount",
        )


async def _lot_of(conn: BaseDBAsyncClient, payment: Payment, now: datetime) -> CreditLot | None:
    """The payment's lot, under the credit lock and with due lots expired first."""
    organization_id: uuid.UUID = payment.organization_id  # type: ignore[attr-defined]
    await lock_credits(conn, organization_id)
    await expire_organization(conn, organization_id, now)
    return await CreditLot.filter(payment=payment).using_db(conn).first()


async def claw_back(
    conn: BaseDBAsyncClient, payment: Payment, refund_id: uuid.UUID, now: datetime
) -> None:
    """Take back what the payment's refunds so far owe (one CLAWBACK transfer per refund)."""
    lot = await _lot_of(conn, payment, now)
    if lot is None:
        return
    owed = clawback_owed(lot, payment.amount_refunded, payment.amount)
    if owed == 0:
        return
    await _take_back(conn, lot, owed, refund_id, now)
    lot.clawback_taken += owed
    await lot.save(using_db=conn, update_fields=["clawback_taken"])
    await ledger.post_transfer(
        conn,
        ledger.Transfer(
            debit=credits_account(lot.organization_id),  # type: ignore[attr-defined]
            credit=CREDITS_CLAWED_BACK,
            amount=owed,
            kind=TransferKind.CLAWBACK,
            idempotency_key=_clawback_key(refund_id),
            payment_id=payment.id,
        ),
    )


async def give_back(
    conn: BaseDBAsyncClient, payment: Payment, refund_id: uuid.UUID, now: datetime
) -> None:
    """Stripe reversed a refund: return what its clawback took, to the lots it came from
    (an expired one expires them again) and by cancelling the debt it booked."""
    lot = await _lot_of(conn, payment, now)
    parts = await CreditClawbackPart.filter(refund_id=refund_id).using_db(conn)
    if lot is None or not parts:
        return
    organization_id: uuid.UUID = lot.organization_id  # type: ignore[attr-defined]
    for part in parts:
        if part.lot_id is not None:  # type: ignore[attr-defined]
            await _return_to_lot(conn, part.lot_id, part.credits)  # type: ignore[attr-defined]
        else:
            await _cancel_debt(conn, organization_id, part.credits, lot)
    returned = sum(int(part.credits) for part in parts)
    await (
        CreditLot.filter(id=lot.id)
        .using_db(conn)
        .update(clawback_taken=lot.clawback_taken - returned)
    )
    await ledger.post_transfer(
        conn,
        ledger.Transfer(
            debit=CREDITS_CLAWED_BACK,
            credit=credits_account(organization_id),
            amount=returned,
            kind=TransferKind.CLAWBACK,
            idempotency_key=_clawback_key(refund_id) + ":reversed",
            payment_id=payment.id,
        ),
    )


async def _return_to_lot(conn: BaseDBAsyncClient, lot_id: uuid.UUID, credits: int) -> None:
    await conn.execute_query(
        "UPDATE credit_lots SET remaining = remaining + $2 WHERE id = $1", [lot_id, credits]
    )


async def _cancel_debt(
    conn: BaseDBAsyncClient, organization_id: uuid.UUID, credits: int, refunded: CreditLot
) -> None:
    """Cancel debt the clawback booked; what later purchases already paid of it goes back to
    their lots, newest first (the refunded lot for any rest)."""
    debt = await lock_credits(conn, organization_id)
    cancelled = min(debt, credits)
    if cancelled:
        await _set_debt(conn, organization_id, debt - cancelled)
    repaid = credits - cancelled
    if repaid == 0:
        return
    payers = (
        await CreditLot.filter(organization_id=organization_id, debt_paid__gt=0)
        .using_db(conn)
        .order_by("-created_at", "-id")
    )
    for payer in payers:
        back = min(repaid, int(payer.debt_paid))
        if back == 0:
            break
        await conn.execute_query(
            "UPDATE credit_lots SET remaining = remaining + $2, debt_paid = debt_paid - $2 "
            "WHERE id = $1",
            [payer.id, back],
        )
        repaid -= back
    if repaid:
        await _return_to_lot(conn, refunded.id, repaid)


def _clawback_key(refund_id: uuid.UUID) -> str:
    return f"refund:{refund_id}:clawback"


async def _take_back(
    conn: BaseDBAsyncClient, lot: CreditLot, credits: int, refund_id: uuid.UUID, now: datetime
) -> None:
    """From the lot, then the other lots soonest-expiring first; the rest becomes debt.
    Each part is recorded for the refund, should Stripe reverse it."""
    organization_id: uuid.UUID = lot.organization_id  # type: ignore[attr-defined]
    spendable = await _spendable_lots(conn, organization_id, now)
    others = [other for other in spendable if other.id != lot.id]
    parts = await _take(conn, [lot, *others], credits, spent=False)
    missing = credits - sum(parts.values())
    if missing:
        debt = await lock_credits(conn, organization_id)
        await _set_debt(conn, organization_id, debt + missing)
    await CreditClawbackPart.bulk_create(
        [
            *(
                CreditClawbackPart(refund_id=refund_id, lot_id=lot_id, credits=taken)
                for lot_id, taken in parts.items()
            ),
            *([CreditClawbackPart(refund_id=refund_id, credits=missing)] if missing else []),
        ],
        using_db=conn,
    )
