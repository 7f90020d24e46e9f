"""Sends the outbox's retry mails (queued by `recovery`): after the recovery delay, only
while the payment still waits for a card, with a link to kassa's own payment page.

The link is signed when the mail is sent, with its expiry counted from the failure (kept
in the message): every send of one message, a retried one included, carries the very same
link, and no working link sits in the outbox table. A link signed at send time with its
own expiry would differ between two sends of one mail, each expiring at another time.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from kassa.config import ConfigurationError, Settings
from kassa.models import Order, Payment, PaymentStatus
from kassa.money import Money
from kassa.services import outbox, pay_links, receipts
from kassa.services.errors import DomainError
from kassa.services.mail import Mailer

log = logging.getLogger(__name__)

TEMPLATE = "payment_failed"
# A payer mid-attempt (3-D Secure open, a card processing) is not told it failed.
WAITING_FOR_A_CARD = (PaymentStatus.FAILED, PaymentStatus.REQUIRES_PAYMENT_METHOD)


class RecoveryMailer:
    def __init__(self, settings: Settings, mailer: Mailer) -> None:
        self._settings = settings
        self._mailer = mailer

    async def send(self, payload: Mapping[str, object]) -> None:
        failed_at = int(str(payload["failed_at"]))
        due = failed_at + self._settings.recovery_mail_delay_seconds
        if time.time() < due:
            raise outbox.NotYet(datetime.fromtimestamp(due, UTC))
        payment = await pay_links.linked_payment(uuid.UUID(str(payload["payment"])))
        reason = await _why_not(payment, str(payload["attempt"]))
        if reason is not None:
            log.info("retry mail for payment %s not sent: %s", payload["payment"], reason)
            return
        assert payment is not None
        await self._mailer.send(await self._mail(payment, str(payload["to"]), failed_at))

    async def _mail(self, payment: Payment, to: str, failed_at: int) -> dict[str, object]:
        settings = self._settings
        expires = datetime.fromtimestamp(failed_at, UTC) + timedelta(days=settings.pay_link_days)
        link = public_url(settings) + pay_links.link_path(settings, payment.id, now=failed_at)
        order = await Order.get_or_none(id=payment.order_id) if payment.order_id else None  # type: ignore[attr-defined]
        money = Money.of_minor(payment.amount, payment.currency)
        context = {
            "amount": money.format(),
            "currency": money.currency.upper(),
            "description": await receipts.describe(payment, order),
            "reason": payment.failure_message or "The payment did not go through.",
            "link": link,
            "expires": expires.strftime("%Y-%m-%d %H:%M UTC"),
            "payment_id": str(payment.id),
        }
        return {"template": TEMPLATE, "to": to, "context": context}


async def _why_not(payment: Payment | None, attempt: str) -> str | None:
    """Why the mail for `attempt` is no longer wanted; None when it is."""
    if payment is None:
        return "the payment is gone"
    if payment.recovery_attempt != attempt:
        return "a later attempt failed since (its own mail follows)"
    if payment.status not in WAITING_FOR_A_CARD:
        return f"the payment is {payment.status.value} now"
    try:
        await pay_links.require_payable(payment)
    except DomainError as exc:
        return exc.message
    return None


def public_url(settings: Settings) -> str:
    base = settings.public_base_url
    if base is None:
        raise ConfigurationError("set KASSA_PUBLIC_URL: retry mails link to kassa's pay page")
    return base
