"""Mail as customers and coaches receive it, through a real SMTP server."""

from __future__ import annotations

import asyncio
import uuid

from kassa.models import Invoice, OutboxMessage, Payment, StripeEvent
from kassa.services import api_keys
from kassa.services.identity import OrgRole
from tests.e2e.test_orders import _create, _pay, _wait_for_order
from tests.e2e.test_refunds import _refund
from tests.support import TOP_UP, VISA, Inbox, Kassa


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


BUY = """
mutation Buy($input: BuyCreditsInput!) {
  buyCredits(input: $input) {
    ... on PaymentIntentCreated { payment { id stripePaymentIntentId } }
    ... on UserError { code field }
  }
}
"""


async def test_an_api_key_names_the_receipt_address_and_it_names_the_package(
    kassa: Kassa, smtp: Inbox
) -> None:
    # given: a server-to-server caller, which has no email claim of its own
    member = await kassa.member()
    key = (await api_keys.create(member.external_id, "shop", OrgRole.MEMBER)).secret
    buyer = f"buyer-{uuid.uuid4().hex[:8]}@example.com"
    variables = {"organizationId": member.organization_id, "packageCode": "standard"}

    # when
    refused = await kassa.gql(BUY, {"input": {**variables, "receiptEmail": "no-at-sign"}}, key)
    bought = await kassa.gql(BUY, {"input": {**variables, "receiptEmail": buyer}}, key)
    intent = bought["data"]["buyCredits"]["payment"]["stripePaymentIntentId"]
    await kassa.confirm_with_card(intent, VISA)
    await smtp.wait_for(buyer, "Receipt")

    # then
    assert refused["data"]["buyCredits"] == {"code": "INVALID_INPUT", "field": "receiptEmail"}
    [receipt] = smtp.to(buyer, "Receipt")
    text = receipt.get_body(preferencelist=("plain",))
    assert text is not None
    assert "For:         Standard: 1,100 credits" in text.get_content()
    assert "Wallet top-up" not in text.get_content()


async def test_a_top_up_receipt_goes_where_the_api_key_says(kassa: Kassa, smtp: Inbox) -> None:
    member = await kassa.member()
    key = (await api_keys.create(member.external_id, "shop", OrgRole.MEMBER)).secret
    payer = f"payer-{uuid.uuid4().hex[:8]}@example.com"
    variables = {
        "input": {
            "organizationId": member.organization_id,
            "amount": "12.00",
            "currency": "usd",
            "paymentMethodId": "pm_card_visa",
            "receiptEmail": payer,
        }
    }

    topped = await kassa.gql(TOP_UP, variables, key)
    await smtp.wait_for(payer, "Receipt")

    assert topped["data"]["topUpWallet"]["payment"]["status"] == "SUCCEEDED"
    [receipt] = smtp.to(payer, "Receipt")
    assert receipt["Subject"] == "Receipt: 12.00 USD paid"


async def _processed_success(intent_id: str) -> StripeEvent:
    for _ in range(300):
        event = await StripeEvent.get_or_none(
            object_id=intent_id, type="payment_intent.succeeded", status="PROCESSED"
        )
        if event is not None:
            return event
        await asyncio.sleep(0.05)
    raise AssertionError(f"no processed success event for {intent_id}")


async def test_the_longest_receipt_address_kassa_takes_still_books_the_payment_once(
    kassa: Kassa,
) -> None:
    # given: a receipt address of 317 characters (kassa takes up to 320)
    member = await kassa.member()
    address = f"{'r' * 64}@{'x' * 240}.example.com"

    # when: paid by a card confirmed on the server, then Stripe's event arrives twice
    paid = await kassa.top_up(member, "9.00", paymentMethodId="pm_card_visa", receiptEmail=address)
    event = await _processed_success(paid["payment"]["stripePaymentIntentId"])
    again = event.payload.replace(event.id, f"evt_{uuid.uuid4().hex}")
    assert (await kassa.deliver_and_wait(again)).status == "PROCESSED"

    # then: the money is booked and invoiced, and one receipt is queued
    assert paid["payment"]["status"] == "SUCCEEDED"
    assert (await kassa.wallet(member))["balance"]["amount"] == "9.00"
    payment_id = paid["payment"]["id"].removeprefix("pay_")
    assert await Invoice.filter(payment_id=payment_id).count() == 1
    receipts = [
        message
        for message in await OutboxMessage.filter(kind="mail")
        if message.payload["to"] == address
    ]
    assert len(receipts) == 1
