"""Failed-payment recovery: a mail to whoever pays, with a link to pay again on kassa's own
payment page (`/pay/…`).

A failed attempt queues one mail in the transaction that records the failure, keyed by
(payment, attempt): the same failure delivered again writes nothing. The mail waits
KASSA_RECOVERY_MAIL_DELAY_SECONDS and is sent only if the payment still waits for a card
and no later attempt has failed meanwhile (`recovery_mail` sends it).
"""

from __future__ import annotations

import logging
import time

from tortoise.backends.base.client import BaseDBAsyncClient

from kassa.models import Organization, Payment, PaymentPurpose
from kassa.services import outbox
from kassa.services.stripe_gateway import PaymentIntentSnapshot

log = logging.getLogger(__name__)

RECOVERY_MAIL = "mail.recovery"


async def queue_recovery(conn: BaseDBAsyncClient, payment: Payment, *, attempt: str) -> None:
    """Mail the payer a retry link for `payment`, once per failed `attempt` (a charge id, an
    invoice's attempt number): within the caller's transaction, which holds the payment.

    The mail goes to the organization's billing address, else the payment's receipt
    address (an order's customer, who pays it, always); with neither, none is queued. It is
    sent after the recovery delay if the payment is still FAILED or REQUIRES_PAYMENT_METHOD,
    payable through the link, and `attempt` is still the latest one queued for it.
    """
    to = await _payer_address(conn, payment)
    if to is None:
        log.info("payment %s failed (%s); no address to send a retry link to", payment.id, attempt)
        await _supersede(conn, payment, attempt)
        return
    payload = {
        "payment": str(payment.id),
        "attempt": attempt,
        "to": to,
        # The link's lifetime counts from here, so every send of this mail has one link.
        "failed_at": int(time.time()),
    }
    if await outbox.add(conn, RECOVERY_MAIL, f"{RECOVERY_MAIL}:{payment.id}:{attempt}", payload):
        await _supersede(conn, payment, attempt)


async def after_failed_attempt(
    conn: BaseDBAsyncClient, payment: Payment, intent: PaymentIntentSnapshot
) -> None:
    """A one-off payment's attempt failed: queue its retry mail, unless the payer is
    looking at the decline already (on kassa's payment page) or the link cannot pay it."""
    if payment.via_checkout:
        return  # paid on Stripe Checkout's page, which kassa's link cannot take over
    attempt = intent.charge_id or f"{intent.payment_method_id or 'no card'}:{intent.failure_code}"
    method = intent.payment_method_id
    if method is not None and method == payment.pay_page_payment_method_id:
        await _supersede(conn, payment, attempt)
        return
    await queue_recovery(conn, payment, attempt=attempt)


async def _payer_address(conn: BaseDBAsyncClient, payment: Payment) -> str | None:
    if payment.purpose is PaymentPurpose.ORDER:
        return payment.receipt_email  # the organization sells; its customer pays
    organization_id = payment.organization_id  # type: ignore[attr-defined]
    organization = await Organization.filter(id=organization_id).using_db(conn).get()
    return organization.billing_email or payment.receipt_email


async def _supersede(conn: BaseDBAsyncClient, payment: Payment, attempt: str) -> None:
    """`attempt` is now the payment's latest failure: mails for earlier ones are not sent."""
    payment.recovery_attempt = attempt  # a caller saving `payment` later keeps it too
    await Payment.filter(id=payment.id).using_db(conn).update(recovery_attempt=attempt)
