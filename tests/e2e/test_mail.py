"""Mail as customers and coaches receive it, through a real SMTP server."""

from __future__ import annotations

import asyncio
import uuid

from kassa.models import OutboxMessage, Payment, StripeEvent
from tests.e2e.test_orders import _create, _pay, _wait_for_order
from tests.e2e.test_refunds import _refund
from tests.support import VISA, Inbox, Kassa


async def _outbox_settled() -> None:
    for _ in range(300):
        if not await OutboxMessage.filter(status="PENDING").exists():
            return
        await asyncio.sleep(0.05)


async def test_paid_order_mails_one_receipt_after_three_deliveries(
    kassa: Kassa, smtp: Inbox
) -> None:
    # given: an order for a coaching session, the coach to be told too
    member = await kassa.member()
    # addresses of this test's own: the SMTP server's inbox lasts the whole session
    customer, coach = (
        f"ada-{uuid.uuid4().hex[:8]}@example.com",
        f"coach-{uuid.uuid4().hex[:8]}@example.com",
    )
    created = await _create(
        kassa,
        member,
        amount="60.00",
        currency="usd",
        description="Coaching, 60 min",
        customerEmail=customer,
        notifyEmails=[coach],
    )
    order_id = created["order"]["id"]

    # when: paid by card; Stripe's event then arrives twice more
    paid = await _pay(kassa, member, order_id)
    await kassa.confirm_with_card(paid["payment"]["stripePaymentIntentId"], VISA)
    await _wait_for_order(kassa, member, order_id, "PAID")
    payment = await Payment.get(id=paid["payment"]["id"].removeprefix("pay_"))
    event = await StripeEvent.get(
        object_id=payment.stripe_payment_intent_id, type="payment_intent.succeeded"
    )
    for _ in range(2):
        await kassa.deliver_and_wait(event.payload)
    await smtp.wait_for(customer, "Receipt")
    await smtp.wait_for(coach, "Confirmed")
    await _outbox_settled()

    # then
    receipts = smtp.to(customer, "Receipt")
    assert len(receipts) == 1
    assert receipts[0]["Subject"] == "Receipt: 60.00 USD paid"
    assert receipts[0]["From"] == "shop <shop@kassa.test>"
    text = receipts[0].get_body(preferencelist=("plain",))
    html = receipts[0].get_body(preferencelist=("html",))
    assert text is not None and "Coaching, 60 min" in text.get_content()
    assert html is not None and "<h1>Thank you for your payment</h1>" in html.get_content()
    assert len(smtp.to(customer, "Confirmed: Coaching, 60 min")) == 1
    assert len(smtp.to(coach, "Confirmed: Coaching, 60 min")) == 1
    assert smtp.to(coach, "Receipt") == []


async def test_refund_mails_a_refund_notice(kassa: Kassa, smtp: Inbox) -> None:
    member = await kassa.member()
    customer = f"grace-{uuid.uuid4().hex[:8]}@example.com"
    created = await _create(kassa, member, amount="25.00", currency="usd", customerEmail=customer)
    paid = await _pay(kassa, member, created["order"]["id"], paymentMethodId="pm_card_visa")

    await _refund(kassa, member.token, paid["payment"]["id"], amount="10.00", reason="rain")
    await smtp.wait_for(customer, "Refund")

    notices = smtp.to(customer, "Refund")
    assert [notice["Subject"] for notice in notices] == ["Refund: 10.00 USD on its way back"]
    body = notices[0].get_body(preferencelist=("plain",))
    assert body is not None and "Reason: rain" in body.get_content()


async def test_html_mail_escapes_what_the_host_app_wrote(kassa: Kassa, smtp: Inbox) -> None:
    member = await kassa.member()
    customer = f"mallory-{uuid.uuid4().hex[:8]}@example.com"
    created = await _create(
        kassa,
        member,
        amount="5.00",
        currency="usd",
        description="<script>x</script>",
        customerEmail=customer,
    )

    await _pay(kassa, member, created["order"]["id"], paymentMethodId="pm_card_visa")
    await smtp.wait_for(customer, "Receipt")

    html = smtp.to(customer, "Receipt")[0].get_body(preferencelist=("html",))
    assert html is not None
    assert "<script>" not in html.get_content()
    assert "&lt;script&gt;" in html.get_content()
