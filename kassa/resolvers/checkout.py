from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kassa import models
from kassa.services import checkout

if TYPE_CHECKING:
    from kassa.schema.context import Context

# Kassa's record, told in Checkout's words, when Stripe cannot be asked.
SESSION_STATE = {
    models.PaymentStatus.SUCCEEDED: ("complete", "paid"),
    models.PaymentStatus.CANCELED: ("expired", "unpaid"),
    models.PaymentStatus.PROCESSING: ("complete", "unpaid"),
}


@dataclass(frozen=True, slots=True)
class SessionState:
    payment: models.Payment
    status: str
    payment_status: str


async def start_checkout(
    context: Context, request: checkout.CheckoutRequest
) -> checkout.CheckoutStarted:
    runtime = context.runtime
    return await checkout.start_checkout(
        context.require_caller(), runtime.gateway, request, runtime.settings.credit_expiry_days
    )


async def checkout_status(context: Context, session_id: str) -> SessionState | None:
    caller = context.caller
    if caller is None:
        return None
    found = await checkout.checkout_status(caller, context.runtime.gateway, session_id)
    if found is None:
        return None
    payment, session = found
    status, payment_status = (
        (session.status, session.payment_status)
        if session is not None
        else SESSION_STATE.get(payment.status, ("open", "unpaid"))
    )
    return SessionState(payment, status, payment_status)
