from __future__ import annotations

from kassa import models
from kassa.schema import types as gql
from kassa.schema.errors import UserError
from kassa.services import checkout
from kassa.services.errors import DomainError

# Kassa's record, told in Checkout's words, when Stripe cannot be asked.
SESSION_STATE = {
    models.PaymentStatus.SUCCEEDED: ("complete", "paid"),
    models.PaymentStatus.CANCELED: ("expired", "unpaid"),
    models.PaymentStatus.PROCESSING: ("complete", "unpaid"),
}


async def start_checkout(
    info: gql.Info, request: checkout.CheckoutRequest
) -> gql.CheckoutStarted | UserError:
    caller = info.context.require_caller()
    runtime = info.context.runtime
    try:
        started = await checkout.start_checkout(
            caller, runtime.gateway, request, runtime.settings.credit_expiry_days
        )
    except DomainError as exc:
        return UserError.of(exc)
    return gql.CheckoutStarted(
        payment=gql.Payment.of(started.payment), session_id=started.session_id, url=started.url
    )


async def checkout_status(info: gql.Info, session_id: str) -> gql.CheckoutStatus | None:
    caller = info.context.caller
    if caller is None:
        return None
    found = await checkout.checkout_status(caller, info.context.runtime.gateway, session_id)
    if found is None:
        return None
    payment, session = found
    status, payment_status = (
        (session.status, session.payment_status)
        if session is not None
        else SESSION_STATE.get(payment.status, ("open", "unpaid"))
    )
    return gql.CheckoutStatus(
        session_id=session_id,
        status=status,
        payment_status=payment_status,
        payment=gql.Payment.of(payment),
    )
