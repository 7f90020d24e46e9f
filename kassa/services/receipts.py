"""What a page holding only a Checkout Session id or a signed payment link may show.

Exactly what Stripe's own receipt shows of a payment: its amount, what was bought, its
state, and the card's brand and last four digits. Never the organization, the customer's
address or kassa's ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.backends.base.client import BaseDBAsyncClient

from kassa.models import CreditPackage, CreditPlan, Order, Payment, PaymentPurpose, PaymentStatus
from kassa.money import Money


@dataclass(frozen=True, slots=True)
class Receipt:
    status: PaymentStatus
    amount: Money
    # What was bought, as the receipt mail names it.
    description: str
    credits: int | None
    order_reference: str | None
    card_brand: str | None
    card_last4: str | None
    failure_message: str | None


async def receipt_of(payment: Payment) -> Receipt:
    order = await Order.get_or_none(id=payment.order_id) if payment.order_id else None  # type: ignore[attr-defined]
    return Receipt(
        status=payment.status,
        amount=Money.of_minor(payment.amount, payment.currency),
        description=await describe(payment, order),
        credits=payment.credits if payment.purpose.grants_credits else None,
        order_reference=(order.reference or order.description or "Order") if order else None,
        card_brand=payment.card_brand,
        card_last4=payment.card_last4,
        failure_message=payment.failure_message if payment.status is PaymentStatus.FAILED else None,
    )


async def describe(
    payment: Payment, order: Order | None, conn: BaseDBAsyncClient | None = None
) -> str:
    """What `payment` bought, as receipts name it."""
    if order is not None:
        return order.description or order.reference or "Order"
    if payment.purpose is PaymentPurpose.CREDIT_PACKAGE:
        # The package as bought, even if the catalog has changed or dropped it since.
        package = (
            await CreditPackage.filter(code=payment.credit_package_code).using_db(conn).first()
        )
        name = package.name if package else payment.credit_package_code
        return f"{name}: {payment.credits:,} credits"
    if payment.purpose is PaymentPurpose.SUBSCRIPTION:
        plan = (
            await CreditPlan.filter(stripe_price_id=payment.stripe_price_id).using_db(conn).first()
        )
        name = plan.name if plan else payment.stripe_price_id
        return f"{name} (subscription): {payment.credits or 0:,} credits"
    return "Wallet top-up"
