"""`charge.dispute.created`: recorded on its payment, the host app told; checked first."""

from __future__ import annotations

from typing import Any

from kassa.models import Payment
from tests.e2e.test_host_notifications import CONFIGURE, Received, _wait_for, host_app
from tests.e2e.test_orders import _create, _pay
from tests.support import Inbox, Kassa, Member, fixture, stripe_event

__all__ = ["host_app"]  # the fixture, used here by name


async def _paid(kassa: Kassa, member: Member, amount: str = "40.00") -> Payment:
    created = await _create(kassa, member, amount=amount, currency="usd")
    paid = await _pay(kassa, member, created["order"]["id"], paymentMethodId="pm_card_visa")
    assert paid["payment"]["status"] == "SUCCEEDED", paid
    return await Payment.get(id=paid["payment"]["id"].removeprefix("pay_"))


def _dispute_event(payment: Payment, **changes: Any) -> str:
    dispute = fixture("dispute")
    dispute.update(
        amount=payment.amount,
        currency=payment.currency,
        payment_intent=payment.stripe_payment_intent_id,
        charge=payment.stripe_charge_id or "ch_unknown",
        reason="fraudulent",
        status="needs_response",
    )
    dispute.update(changes)
    return stripe_event("charge.dispute.created", dispute)


async def test_a_dispute_is_recorded_and_the_host_told(
    kassa: Kassa, host_app: tuple[str, Received]
) -> None:
    # given
    url, received = host_app
    member = await kassa.member()
    await kassa.gql(
        CONFIGURE, {"input": {"organizationId": member.organization_id, "url": url}}, member.token
    )
    payment = await _paid(kassa, member)

    # when
    event = await kassa.deliver_and_wait(_dispute_event(payment, amount=2500))

    # then
    assert event.status == "PROCESSED", event.last_error
    disputed = await Payment.get(id=payment.id)
    assert (disputed.dispute_status, disputed.dispute_reason, disputed.dispute_amount) == (
        "needs_response",
        "fraudulent",
        2500,
    )
    told = await _wait_for(received, "payment.disputed", "SUCCEEDED")
    assert told["data"]["dispute"] == {
        "status": "needs_response",
        "reason": "fraudulent",
        "amount": "25.00",
        "currency": "usd",
    }


async def test_a_dispute_that_does_not_match_its_payment_is_not_recorded(kassa: Kassa) -> None:
    member = await kassa.member()
    payment = await _paid(kassa, member, "10.00")

    too_much = await kassa.deliver_and_wait(_dispute_event(payment, amount=500_000))
    in_yen = await kassa.deliver_and_wait(_dispute_event(payment, amount=700, currency="jpy"))

    for event in (too_much, in_yen):
        assert event.status == "FAILED"
        assert "PaymentMismatch" in (event.last_error or "")
    assert (await Payment.get(id=payment.id)).stripe_dispute_id is None


async def test_a_dispute_of_an_unknown_charge_is_kept_for_retry(kassa: Kassa) -> None:
    member = await kassa.member()
    payment = await _paid(kassa, member)

    event = await kassa.deliver_and_wait(
        _dispute_event(payment, payment_intent=None, charge="ch_not_known_here")
    )

    assert event.status == "FAILED"
    assert event.next_attempt_at is not None
    assert "UnknownCharge" in (event.last_error or "")


async def test_a_dispute_is_mailed_to_the_platforms_admins_once(kassa: Kassa, smtp: Inbox) -> None:
    # given
    member = await kassa.member()
    payment = await _paid(kassa, member)
    event = _dispute_event(payment, amount=4000, id=f"dp_{payment.id.hex[:20]}")

    # when: Stripe delivers it twice
    assert (await kassa.deliver_and_wait(event)).status == "PROCESSED"
    await kassa.deliver_and_wait(event)

    # then
    for admin in ("ops@kassa.test", "finance@kassa.test"):
        await smtp.wait_for(admin, "Dispute: 40.00 USD")
        [mail] = smtp.to(admin, "Dispute: 40.00 USD")
        assert "fraudulent" in mail.get_body().get_content()  # type: ignore[union-attr]
