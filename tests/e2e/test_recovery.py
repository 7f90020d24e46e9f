"""Failed-payment recovery: one mail per failed attempt, through a real SMTP server, with a
link to kassa's payment page that pays the payment."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from tortoise.transactions import in_transaction

from kassa.models import LedgerTransfer, OutboxMessage, Payment, StripeEvent
from kassa.services import outbox, recovery
from kassa.services.identity import OrgRole
from kassa.services.mail import Mailer
from kassa.services.recovery_mail import RecoveryMailer
from tests.e2e.test_orders import _create, _pay, _wait_for_order
from tests.support import DECLINED, VISA, Inbox, Kassa, Member, stripe_event

SET_BILLING_EMAIL = """
mutation Set($input: SetBillingEmailInput!) {
  setBillingEmail(input: $input) {
    __typename
    ... on BillingEmailSet { organization { id billingEmail } }
    ... on UserError { code field }
  }
}
"""
SUBJECT = "Payment failed"


def _address(name: str) -> str:
    # The SMTP server's inbox lasts the whole session: each test mails addresses of its own.
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


async def _billed_member(kassa: Kassa) -> tuple[Member, str]:
    member = await kassa.member()
    billing = _address("billing")
    variables = {"input": {"organizationId": member.organization_id, "email": billing}}
    body = await kassa.gql(SET_BILLING_EMAIL, variables, member.token)
    assert body["data"]["setBillingEmail"]["organization"]["billingEmail"] == billing
    return member, billing


async def _failed_top_up(kassa: Kassa, member: Member, amount: str) -> tuple[str, str]:
    """A top-up whose card is declined in the browser (Stripe.js), as the local server
    reports it: (payment id, PaymentIntent id)."""
    created = await kassa.top_up(member, amount)
    payment_id = created["payment"]["id"]
    intent_id = created["payment"]["stripePaymentIntentId"]
    await kassa.confirm_with_card(intent_id, DECLINED)
    failed = await kassa.wait_for_status(member, payment_id, "FAILED")
    assert failed["status"] == "FAILED"
    return payment_id, intent_id


async def _decline_again(kassa: Kassa, member: Member, payment_id: str, intent_id: str) -> None:
    """Another declined card on the same payment: a second failed attempt (a new charge)."""
    charge_before = (await Payment.get(id=payment_id.removeprefix("pay_"))).stripe_charge_id
    await kassa.confirm_with_card(intent_id, DECLINED)
    for _ in range(300):
        payment = await Payment.get(id=payment_id.removeprefix("pay_"))
        if payment.stripe_charge_id != charge_before and payment.status == "FAILED":
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the second decline never arrived")


async def _card_from_stripe_js(kassa: Kassa, number: str) -> str:
    """The PaymentMethod the payment page's card field makes (`stripe.createPaymentMethod`)."""
    method = await kassa.stripe.v1.payment_methods.create_async(
        {
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    return method.id


async def _messages_settled() -> None:
    for _ in range(300):
        if not await OutboxMessage.filter(status="PENDING").exists():
            return
        await asyncio.sleep(0.05)


def _link(mail: EmailMessage) -> str:
    text = mail.get_body(preferencelist=("plain",))
    assert text is not None
    found = re.search(r"http://\S+/pay/\S+", text.get_content())
    assert found is not None, text.get_content()
    return found.group(0)


async def _redeliver(kassa: Kassa, event: StripeEvent) -> None:
    """The same failure again: as Stripe retries it (same event id), and as events of
    their own carrying the same attempt (a replay, a second endpoint)."""
    for _ in range(2):
        await kassa.deliver_and_wait(event.payload)
    intent = json.loads(event.payload)["data"]["object"]
    created = int(event.stripe_created.timestamp())
    for _ in range(2):
        again = stripe_event("payment_intent.payment_failed", intent, created)
        assert (await kassa.deliver_and_wait(again)).status == "PROCESSED"


async def test_a_failed_top_up_mails_one_working_retry_link_which_pays_it_once(
    kassa: Kassa, smtp: Inbox
) -> None:
    # given: an organization with a billing address, whose top-up was declined
    member, billing = await _billed_member(kassa)
    payment_id, intent_id = await _failed_top_up(kassa, member, "21.00")
    event = await StripeEvent.get(object_id=intent_id, type="payment_intent.payment_failed")

    # when: the failure arrives again, four more times
    await _redeliver(kassa, event)
    await smtp.wait_for(billing, SUBJECT)
    await _messages_settled()

    # then: one mail, to the billing address, with the amount and a link to the page
    [mail] = smtp.to(billing, SUBJECT)
    assert mail["Subject"] == "Payment failed: 21.00 USD, pay again"
    html = mail.get_body(preferencelist=("html",))
    assert html is not None and "Pay again with another card" in html.get_content()
    link = _link(mail)
    assert link.startswith(f"{kassa.settings.public_url}/pay/")
    page = await kassa.http.get(link)
    assert page.status_code == 200
    assert "21.00 USD" in page.text and 'data-testid="pay-submit"' in page.text

    # when: the payer pays through the link as the page does (a card from Stripe.js)
    card = await _card_from_stripe_js(kassa, VISA)
    paid = await kassa.http.post(f"{link}/confirm", json={"paymentMethodId": card})

    # then: the payment succeeded, once
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "SUCCEEDED"
    payment = await kassa.wait_for_status(member, payment_id, "SUCCEEDED")
    assert payment["card"]["last4"] == "4242"
    await _messages_settled()
    transfers = await LedgerTransfer.filter(payment_id=payment_id.removeprefix("pay_"))
    assert [transfer.kind for transfer in transfers] == ["TOP_UP"]
    assert (await kassa.wallet(member))["balance"]["amount"] == "21.00"
    assert len(smtp.to(billing, SUBJECT)) == 1
    again = await kassa.http.get(link)
    assert "SUCCEEDED" in again.text and 'data-testid="pay-submit"' not in again.text


async def test_each_failed_attempt_is_mailed_once(kassa: Kassa, smtp: Inbox) -> None:
    # given: a declined top-up, mailed
    member, billing = await _billed_member(kassa)
    payment_id, intent_id = await _failed_top_up(kassa, member, "8.00")
    await smtp.wait_for(billing, SUBJECT)

    # when: the payer tries another card, declined too, and that failure arrives again
    await _decline_again(kassa, member, payment_id, intent_id)
    await smtp.wait_for(billing, SUBJECT, count=2)
    latest = (
        await StripeEvent.filter(object_id=intent_id, type="payment_intent.payment_failed")
        .order_by("-received_at")
        .first()
    )
    assert latest is not None
    await _redeliver(kassa, latest)
    await _messages_settled()

    # then: one mail per attempt, each with a working link
    mails = smtp.to(billing, SUBJECT)
    assert len(mails) == 2
    for mail in mails:
        assert (await kassa.http.get(_link(mail))).status_code == 200


async def test_a_decline_on_the_payment_page_itself_is_not_mailed(
    kassa: Kassa, smtp: Inbox
) -> None:
    # given: a failed top-up, mailed with its link
    member, billing = await _billed_member(kassa)
    payment_id, _ = await _failed_top_up(kassa, member, "6.00")
    await smtp.wait_for(billing, SUBJECT)
    link = _link(smtp.to(billing, SUBJECT)[0])

    # when: the payer, on the page, enters a card that is declined too
    card = await _card_from_stripe_js(kassa, DECLINED)
    refused = await kassa.http.post(f"{link}/confirm", json={"paymentMethodId": card})
    await asyncio.sleep(2)  # the local server's event about it arrives meanwhile
    await _messages_settled()

    # then: the page said so; no second mail
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "CARD_DECLINED"
    payment = await Payment.get(id=payment_id.removeprefix("pay_"))
    assert payment.status == "FAILED"
    assert payment.recovery_attempt == payment.stripe_charge_id
    assert len(smtp.to(billing, SUBJECT)) == 1


async def test_without_any_address_nothing_is_mailed_and_the_failure_is_recorded(
    kassa: Kassa,
) -> None:
    # given: no billing address, and a token without an email claim (no receipt address)
    member = await kassa.member()

    # when
    payment_id, intent_id = await _failed_top_up(kassa, member, "4.00")
    await _messages_settled()

    # then
    event = await StripeEvent.get(object_id=intent_id, type="payment_intent.payment_failed")
    assert event.status == "PROCESSED"
    prefix = f"{recovery.RECOVERY_MAIL}:{payment_id.removeprefix('pay_')}"
    assert not await OutboxMessage.filter(dedupe_key__startswith=prefix).exists()


async def test_billing_email_is_set_by_owners_and_admins_as_an_address(kassa: Kassa) -> None:
    owner = await kassa.member()
    member_token = kassa.token(owner.external_id, OrgRole.MEMBER)
    variables = {"organizationId": owner.organization_id}

    refused = await kassa.gql(
        SET_BILLING_EMAIL, {"input": {**variables, "email": "no-at-sign"}}, owner.token
    )
    forbidden = await kassa.gql(
        SET_BILLING_EMAIL, {"input": {**variables, "email": "a@example.com"}}, member_token
    )
    cleared = await kassa.gql(
        SET_BILLING_EMAIL, {"input": {**variables, "email": None}}, owner.token
    )

    assert refused["data"]["setBillingEmail"] == {
        "__typename": "UserError",
        "code": "INVALID_INPUT",
        "field": "email",
    }
    assert forbidden["data"]["setBillingEmail"]["code"] == "FORBIDDEN"
    assert cleared["data"]["setBillingEmail"]["organization"]["billingEmail"] is None


async def _unmailed_failure(kassa: Kassa) -> Payment:
    """A failed top-up whose retry mail nobody was there to get (no address at all)."""
    member = await kassa.member()
    payment_id, _ = await _failed_top_up(kassa, member, "3.00")
    payment = await Payment.get(id=payment_id.removeprefix("pay_"))
    assert payment.recovery_attempt is not None
    return payment


def _retry_mailer(kassa: Kassa, delay_seconds: float = 0) -> RecoveryMailer:
    settings = kassa.settings.model_copy(update={"recovery_mail_delay_seconds": delay_seconds})
    return RecoveryMailer(settings, Mailer(settings))


def _retry_payload(payment: Payment, to: str, attempt: str | None = None) -> dict[str, object]:
    return {
        "payment": str(payment.id),
        "attempt": attempt or payment.recovery_attempt,
        "to": to,
        "failed_at": int(time.time()),
    }


async def test_a_mail_sent_twice_carries_the_same_link(kassa: Kassa, smtp: Inbox) -> None:
    # given: a retry mail whose first send reached the server but was not marked sent
    payment, to = await _unmailed_failure(kassa), _address("twice")
    payload = _retry_payload(payment, to)

    # when: sent again a second later (outbox delivery is at least once)
    await _retry_mailer(kassa).send(payload)
    await asyncio.sleep(1.1)
    await _retry_mailer(kassa).send(payload)
    await smtp.wait_for(to, SUBJECT, count=2)

    # then
    first, second = smtp.to(to, SUBJECT)
    assert _link(first) == _link(second)


async def test_a_retry_mail_waits_and_is_dropped_once_a_later_attempt_failed(
    kassa: Kassa, smtp: Inbox
) -> None:
    # given
    payment, to = await _unmailed_failure(kassa), _address("later")

    # when
    with pytest.raises(outbox.NotYet) as waiting:
        await _retry_mailer(kassa, delay_seconds=1800).send(_retry_payload(payment, to))
    await _retry_mailer(kassa).send(_retry_payload(payment, to, attempt="ch_an_earlier_one"))
    await asyncio.sleep(0.5)

    # then
    assert waiting.value.at.timestamp() == pytest.approx(time.time() + 1800, abs=5)
    assert smtp.to(to) == []


async def test_a_message_not_due_yet_waits_without_counting_an_attempt(kassa: Kassa) -> None:
    # given: a sender that is asked too early
    later = datetime.now(UTC) + timedelta(hours=1)

    async def not_yet(payload: Mapping[str, object]) -> None:
        raise outbox.NotYet(later)

    outbox.register_sender("test.not_yet", not_yet)
    async with in_transaction() as conn:
        await outbox.add(conn, "test.not_yet", f"test.not_yet:{uuid.uuid4()}", {})
    message = await OutboxMessage.filter(kind="test.not_yet").order_by("-created_at").first()
    assert message is not None

    # when
    status = await outbox.send(str(message.id))

    # then
    await message.refresh_from_db()
    assert status == "PENDING"
    assert (message.attempts, message.last_error) == (0, None)
    assert message.next_attempt_at == later


async def test_a_failed_order_payment_is_mailed_to_its_customer_who_pays_it(
    kassa: Kassa, smtp: Inbox
) -> None:
    # given: a shop with a billing address, and an order its customer pays in the browser
    shop, billing = await _billed_member(kassa)
    customer = _address("customer")
    created = await _create(
        kassa,
        shop,
        amount="30.00",
        currency="usd",
        description="Yoga, 10 lessons",
        customerEmail=customer,
    )
    started = await _pay(kassa, shop, created["order"]["id"])
    intent_id = started["payment"]["stripePaymentIntentId"]

    # when: the customer's card is declined
    await kassa.confirm_with_card(intent_id, DECLINED)
    await smtp.wait_for(customer, SUBJECT)
    await _messages_settled()

    # then: the customer, who pays, is asked to pay again; the shop is not
    [mail] = smtp.to(customer, SUBJECT)
    text = mail.get_body(preferencelist=("plain",))
    assert text is not None and "Yoga, 10 lessons" in text.get_content()
    assert smtp.to(billing) == []
    paid = await kassa.http.post(
        f"{_link(mail)}/confirm", json={"paymentMethodId": await _card_from_stripe_js(kassa, VISA)}
    )
    assert paid.json()["status"] == "SUCCEEDED"
    assert (await _wait_for_order(kassa, shop, created["order"]["id"], "PAID"))["status"] == "PAID"
