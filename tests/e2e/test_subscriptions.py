"""Recurring credit plans: subscribing, credits per paid invoice, renewals, failures,
cancelling and changing plan, over GraphQL and signed webhooks against the local server.

The local Stripe-compatible server makes subscriptions, their first invoice and its
PaymentIntent, and sends `customer.subscription.created`, `invoice.payment_succeeded` and
`payment_intent.succeeded`; renewals, `invoice.paid`, failed retries and the end of a period
are Stripe-shaped events built from Stripe's fixtures and signed here.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from kassa.demo.local_stripe import SECRET_KEY, LocalStripe
from kassa.ids import IdKind, decode
from kassa.models import (
    CreditLot,
    CreditPlan,
    CreditSubscription,
    Invoice,
    Organization,
    OutboxMessage,
    Payment,
    StripeEvent,
)
from kassa.services import plans, recovery, subscriptions
from kassa.services.errors import DomainError, ErrorCode
from kassa.services.identity import Caller, OrgRole
from kassa.services.stripe_gateway import StripeGateway
from tests.e2e.test_credit_spending import _consume
from tests.e2e.test_recovery import SET_BILLING_EMAIL
from tests.e2e.test_refunds import _refund
from tests.e2e.test_saved_cards import _saved_card
from tests.stripe_proxy import Fault, Mode, StripeProxy
from tests.support import (
    JSON,
    VISA,
    WEBHOOK_GRACE_SECONDS,
    Kassa,
    Member,
    assert_ledger_consistent,
    fixture,
    stripe_event,
)

STANDARD, PREMIUM = "standard-monthly", "premium-monthly"
BILLING = "billing-7c1f@example.com"
PLANS = "{ creditPlans { code name credits interval price { amount currency } } }"
SUBSCRIBE = """
mutation Subscribe($input: SubscribeToPlanInput!) {
  subscribeToPlan(input: $input) {
    __typename
    ... on SubscriptionChanged { clientSecret subscription { id status cancelAtPeriodEnd
      currentPeriodEnd plan { code credits } } }
    ... on UserError { code message field }
  }
}
"""
CANCEL = """
mutation Cancel($input: CancelSubscriptionInput!) {
  cancelSubscription(input: $input) {
    ... on SubscriptionChanged { subscription { id status cancelAtPeriodEnd } }
    ... on UserError { code message field }
  }
}
"""
CHANGE = """
mutation Change($input: ChangeSubscriptionPlanInput!) {
  changeSubscriptionPlan(input: $input) {
    ... on SubscriptionChanged { subscription { id status plan { code } } }
    ... on UserError { code message field }
  }
}
"""
NODE = "query($id: ID!) { node(id: $id) { id } }"
SUBSCRIPTIONS = """
query($org: ID!) {
  organization(id: $org) {
    subscriptions { id status cancelAtPeriodEnd plan { code name }
      invoices(first: 10) { edges { node { number status total { amount currency } } } } }
    credits { balance lots { credits remaining payment { id purpose status } } }
  }
}
"""


async def _subscribe(kassa: Kassa, member: Member, plan: str = STANDARD, **extra: Any) -> JSON:
    variables = {"input": {"organizationId": member.organization_id, "planCode": plan, **extra}}
    body = await kassa.gql(SUBSCRIBE, variables, member.token)
    assert "errors" not in body, body
    result: JSON = body["data"]["subscribeToPlan"]
    return result


async def _mutate(kassa: Kassa, member: Member, query: str, **fields: Any) -> JSON:
    body = await kassa.gql(query, {"input": fields}, member.token)
    assert "errors" not in body, body
    result: JSON = next(iter(body["data"].values()))
    return result


async def _state(kassa: Kassa, member: Member) -> JSON:
    body = await kassa.gql(SUBSCRIPTIONS, {"org": member.organization_id}, member.token)
    state: JSON = body["data"]["organization"]
    return state


async def _subscribed(kassa: Kassa, member: Member, plan: str = STANDARD) -> CreditSubscription:
    """An ACTIVE subscription paid by a card, once the local server's events are applied."""
    result = await _subscribe(kassa, member, plan, paymentMethodId="pm_card_visa")
    assert result["subscription"]["status"] == "ACTIVE", result
    subscription = await CreditSubscription.get(id=_uuid(result["subscription"]["id"]))
    assert subscription.stripe_subscription_id is not None
    await _settled(subscription.stripe_subscription_id, "customer.subscription.created")
    return subscription


def _uuid(kassa_id: str) -> uuid.UUID:
    kind = IdKind.SUBSCRIPTION if kassa_id.startswith("csub_") else IdKind.PAYMENT
    value = decode(kind, kassa_id)
    assert value is not None
    return value


async def _settled(object_id: str, *types: str) -> None:
    """Until the local server's events of `types` about `object_id` are handled."""
    deadline = time.monotonic() + WEBHOOK_GRACE_SECONDS
    while time.monotonic() < deadline:
        events = await StripeEvent.filter(object_id=object_id, type__in=types)
        if {event.type for event in events} == set(types) and all(
            event.status in ("PROCESSED", "IGNORED") for event in events
        ):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"events {types} about {object_id} were not handled")


async def _lots(subscription: CreditSubscription) -> list[CreditLot]:
    return await CreditLot.filter(payment__subscription=subscription).order_by("created_at")


async def _invoice(
    subscription: CreditSubscription,
    *,
    amount: int = 10000,
    status: str = "paid",
    price_id: str | None = None,
    attempt: int = 1,
    invoice_id: str | None = None,
    intent_id: str | None = None,
) -> JSON:
    """A renewal (or proration) invoice of `subscription` as Stripe's events carry it."""
    invoice = fixture("invoice")
    price = price_id or subscription.stripe_price_id
    line = invoice["lines"]["data"][0]
    line.update(amount=amount, currency="cny", price={"id": price}, plan={"id": price})
    invoice.update(
        id=invoice_id or f"in_{uuid.uuid4().hex[:24]}",
        status=status,
        customer=await _customer_of(subscription),
        subscription=subscription.stripe_subscription_id,
        parent={
            "type": "subscription_details",
            "subscription_details": {"subscription": subscription.stripe_subscription_id},
        },
        payment_intent=intent_id or f"pi_{uuid.uuid4().hex[:24]}",
        amount_due=amount,
        amount_paid=amount if status == "paid" else 0,
        amount_remaining=0 if status == "paid" else amount,
        subtotal=amount,
        total=amount,
        currency="cny",
        attempt_count=attempt,
        billing_reason="subscription_cycle",
    )
    return invoice


async def _customer_of(subscription: CreditSubscription) -> str | None:
    organization_id = subscription.organization_id  # type: ignore[attr-defined]
    organization = await Organization.get(id=organization_id)
    customer_id: str | None = organization.stripe_customer_id
    return customer_id


async def _deliver(kassa: Kassa, event_type: str, data: JSON, created: int | None = None) -> None:
    event = await kassa.deliver_and_wait(stripe_event(event_type, data, created))
    assert event.status == "PROCESSED", (event.type, event.last_error)


async def test_plans_are_listed_and_kept_at_stripe_once(
    kassa: Kassa, stripe_gateway: StripeGateway
) -> None:
    # given: kassa started and made the plans' Products and Prices
    body = await kassa.gql(PLANS)
    listed = {plan["code"]: plan for plan in body["data"]["creditPlans"]}
    assert listed[STANDARD] == {
        "code": STANDARD,
        "name": "标准包 Standard",
        "credits": 1100,
        "interval": "MONTH",
        "price": {"amount": "100.00", "currency": "cny"},
    }
    assert [plan["name"].split()[0] for plan in body["data"]["creditPlans"]] == [
        "体验包",
        "标准包",
        "超值包",
        "豪华包",
    ]
    standard = await CreditPlan.get(code=STANDARD, active=True)
    assert standard.at_stripe

    # when: a second process (or a restart) makes them again
    await CreditPlan.filter(active=True).update(at_stripe=False)
    await plans.keep_at_stripe(stripe_gateway)

    # then: the same Product and Price, nothing twice
    price = await kassa.stripe.v1.plans.retrieve_async(standard.stripe_price_id)
    assert (price.amount, price.currency, price.interval) == (10000, "cny", "month")
    assert price.product == standard.stripe_product_id
    products = await kassa.stripe.v1.products.list_async({"limit": 100})
    assert [p.id for p in products.data].count(standard.stripe_product_id) == 1
    assert await CreditPlan.filter(active=True, at_stripe=False).count() == 0


async def test_subscribe_with_a_saved_card_fills_one_lot_for_the_first_invoice(
    kassa: Kassa,
) -> None:
    # given
    member = await kassa.member()
    card_id = await _saved_card(kassa, member)

    # when
    result = await _subscribe(kassa, member, paymentMethodId=card_id, idempotencyKey="sub-1")
    again = await _subscribe(kassa, member, paymentMethodId=card_id, idempotencyKey="sub-1")

    # then: paid at once; the local server's events change nothing more
    assert result["subscription"]["status"] == "ACTIVE"
    assert result["clientSecret"] is None
    assert again["subscription"]["id"] == result["subscription"]["id"]
    subscription = await CreditSubscription.get(id=_uuid(result["subscription"]["id"]))
    [payment] = await Payment.filter(subscription=subscription)
    assert payment.stripe_payment_intent_id and payment.stripe_invoice_id
    await _settled(payment.stripe_invoice_id, "invoice.payment_succeeded")
    await _settled(payment.stripe_payment_intent_id, "payment_intent.succeeded")
    state = await _state(kassa, member)
    assert state["credits"]["balance"] == 1100
    [lot] = state["credits"]["lots"]
    assert lot["payment"]["purpose"] == "SUBSCRIPTION"
    assert lot["payment"]["status"] == "SUCCEEDED"
    [listed] = state["subscriptions"]
    assert listed["status"] == "ACTIVE"
    [invoice] = [edge["node"] for edge in listed["invoices"]["edges"]]
    assert invoice["total"] == {"amount": "100.00", "currency": "cny"}
    assert invoice["status"] == "paid"
    await assert_ledger_consistent()


async def test_renewal_paid_and_told_many_times_fills_one_lot(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    subscription = await _subscribed(kassa, member)
    renewal = await _invoice(subscription)
    intent = fixture("payment_intent")
    intent.update(
        id=renewal["payment_intent"],
        amount=10000,
        currency="cny",
        status="succeeded",
        invoice=renewal["id"],
        latest_charge=None,
        payment_method=None,
        metadata={},
    )

    # when: invoice.paid three times (each its own event), with the other events about it,
    # all at once
    events = [stripe_event("invoice.paid", renewal) for _ in range(3)]
    events += [
        stripe_event("invoice.payment_succeeded", renewal),
        stripe_event("payment_intent.succeeded", intent),
    ]
    await asyncio.gather(*(kassa.deliver_and_wait(event) for event in events))

    # then: two paid invoices, two lots
    lots = await _lots(subscription)
    assert [lot.credits for lot in lots] == [1100, 1100]
    renewed = await Payment.get(stripe_invoice_id=renewal["id"])
    assert (renewed.status, renewed.amount, renewed.currency) == ("SUCCEEDED", 10000, "cny")
    [listed] = (await _state(kassa, member))["subscriptions"]
    assert len(listed["invoices"]["edges"]) == 2
    issued = await Invoice.get(payment=renewed)
    assert (issued.stripe_invoice_id, issued.subscription_id) == (renewal["id"], subscription.id)
    await assert_ledger_consistent()


async def test_failed_renewal_is_past_due_until_a_retry_pays_it(kassa: Kassa) -> None:
    # given: the host app listens, the billing contact is known
    member = await kassa.member()
    subscription = await _subscribed(kassa, member)
    billing = {"input": {"organizationId": member.organization_id, "email": BILLING}}
    assert (await kassa.gql(SET_BILLING_EMAIL, billing, member.token))["data"]
    await kassa.gql(
        "mutation($org: ID!) { setHostNotifications(input: {organizationId: $org, "
        'url: "http://127.0.0.1:9/hook"}) { __typename } }',
        {"org": member.organization_id},
        member.token,
    )
    now = int(time.time())
    failed = await _invoice(subscription, status="open", attempt=1)

    # when: the renewal fails
    await _deliver(kassa, "invoice.payment_failed", failed, now)

    # then
    await subscription.refresh_from_db()
    assert subscription.status == "PAST_DUE"
    payment = await Payment.get(stripe_invoice_id=failed["id"])
    assert payment.status == "FAILED"
    assert len(await _lots(subscription)) == 1
    notified = await OutboxMessage.filter(
        dedupe_key__startswith=f"notify:subscription:{subscription.id}:PAST_DUE"
    ).count()
    assert notified == 1

    # when: the same failure told again, then Stripe's second attempt fails too
    await _deliver(kassa, "invoice.payment_failed", failed, now)
    await _deliver(kassa, "invoice.payment_failed", {**failed, "attempt_count": 2}, now + 1)

    # then: one retry link per attempt, to the billing contact
    mails = await OutboxMessage.filter(
        kind=recovery.RECOVERY_MAIL, dedupe_key__contains=str(payment.id)
    ).order_by("created_at")
    assert [mail.payload["attempt"] for mail in mails] == [f"{failed['id']}:1", f"{failed['id']}:2"]
    assert {mail.payload["to"] for mail in mails} == {BILLING}

    # when: a retry pays it, then the failure is told again, late
    paid = await _invoice(
        subscription, invoice_id=failed["id"], intent_id=failed["payment_intent"], attempt=2
    )
    await _deliver(kassa, "invoice.paid", paid, now + 2)
    await _deliver(kassa, "invoice.payment_failed", failed, now)

    # then: ACTIVE with the period's one lot
    await subscription.refresh_from_db()
    assert subscription.status == "ACTIVE"
    assert [lot.credits for lot in await _lots(subscription)] == [1100, 1100]
    await payment.refresh_from_db()
    assert payment.status == "SUCCEEDED"
    await assert_ledger_consistent()


async def test_a_failure_told_after_the_retry_paid_leaves_it_active(kassa: Kassa) -> None:
    # given: a renewal failed once, then Stripe's retry paid it; the paid invoice is told
    # first, the failure (an earlier attempt) after it
    member = await kassa.member()
    subscription = await _subscribed(kassa, member)
    now = int(time.time()) + 10
    failed = await _invoice(subscription, status="open", attempt=1)
    paid = await _invoice(
        subscription, invoice_id=failed["id"], intent_id=failed["payment_intent"], attempt=2
    )
    await _deliver(kassa, "invoice.paid", paid, now + 2)

    # when
    await _deliver(kassa, "invoice.payment_failed", failed, now + 1)

    # then: the invoice is paid, so the subscription is not past due, and no one is told so
    await subscription.refresh_from_db()
    assert subscription.status == "ACTIVE"
    payment = await Payment.get(stripe_invoice_id=failed["id"])
    assert payment.status == "SUCCEEDED"
    told = await OutboxMessage.filter(
        dedupe_key__startswith=f"notify:subscription:{subscription.id}:PAST_DUE"
    ).count()
    assert told == 0
    assert not await OutboxMessage.exists(
        kind=recovery.RECOVERY_MAIL, dedupe_key__contains=str(payment.id)
    )


async def test_a_subscribe_stripe_never_heard_of_can_be_repeated_without_a_key(
    kassa: Kassa, local_stripe: LocalStripe
) -> None:
    # given: subscribing (no idempotency key) when Stripe cannot be reached
    member = await kassa.member()
    unreachable = StripeProxy(local_stripe.api_base).start()
    unreachable.add(Fault("/v1/subscriptions", Mode.ERROR, method="POST", exact=True, status=503))
    gateway = StripeGateway(SECRET_KEY, api_base=unreachable.api_base, max_network_retries=0)
    caller = Caller("owner", org_external_id=member.external_id, org_role=OrgRole.OWNER)
    request = subscriptions.Subscribe(
        decode(IdKind.ORGANIZATION, member.organization_id), STANDARD, "pm_card_visa"
    )
    try:
        await subscriptions.subscribe(caller, gateway, request, expiry_days=182)
        raise AssertionError("Stripe answered")
    except DomainError as exc:
        assert exc.code is ErrorCode.PAYMENT_OUTCOME_UNKNOWN
    finally:
        await gateway.aclose()
        unreachable.stop()

    # when: the request is repeated, as the answer says
    result = await _subscribe(kassa, member, paymentMethodId="pm_card_visa")

    # then: the subscription goes on (not ALREADY_SUBSCRIBED for ever), and is the only one
    assert result.get("subscription", {}).get("status") == "ACTIVE", result
    [subscription] = await CreditSubscription.filter(
        organization_id=decode(IdKind.ORGANIZATION, member.organization_id)
    )
    assert f"csub_{subscription.id.hex}" == result["subscription"]["id"]
    assert [lot.credits for lot in await _lots(subscription)] == [1100]


async def test_cancel_at_period_end_stays_active_until_stripe_ends_it(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    subscription = await _subscribed(kassa, member)
    kassa_id = f"csub_{subscription.id.hex}"

    # when
    result = await _mutate(kassa, member, CANCEL, subscriptionId=kassa_id)

    # then: still active for the period paid for
    assert result["subscription"] == {
        "id": kassa_id,
        "status": "ACTIVE",
        "cancelAtPeriodEnd": True,
    }

    # when: the period ends at Stripe
    ended = fixture("subscription")
    ended.update(
        id=subscription.stripe_subscription_id,
        customer=await _customer_of(subscription),
        status="canceled",
        cancel_at_period_end=True,
        metadata={"kassa_subscription_id": str(subscription.id)},
    )
    ended["items"]["data"][0]["price"]["id"] = subscription.stripe_price_id
    await _deliver(kassa, "customer.subscription.deleted", ended)

    # then
    state = await _state(kassa, member)
    assert [s["status"] for s in state["subscriptions"]] == ["CANCELED"]
    again = await _mutate(kassa, member, CANCEL, subscriptionId=kassa_id, atPeriodEnd=False)
    assert again["subscription"]["status"] == "CANCELED"


async def test_cancel_now_ends_it_at_once(kassa: Kassa) -> None:
    member = await kassa.member()
    subscription = await _subscribed(kassa, member)

    result = await _mutate(
        kassa, member, CANCEL, subscriptionId=f"csub_{subscription.id.hex}", atPeriodEnd=False
    )

    assert result["subscription"]["status"] == "CANCELED"
    # The plan is free to subscribe to again.
    assert (await _subscribed(kassa, member)).status == "ACTIVE"


async def test_change_plan_grants_what_the_proration_charged(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    subscription = await _subscribed(kassa, member)

    # when: standard → premium; the local server charges premium less the standard paid
    result = await _mutate(
        kassa, member, CHANGE, subscriptionId=f"csub_{subscription.id.hex}", planCode=PREMIUM
    )

    # then: 13000 credits x 900.00 / 1000.00 for the proration invoice
    assert result["subscription"] == {
        "id": f"csub_{subscription.id.hex}",
        "status": "ACTIVE",
        "plan": {"code": PREMIUM},
    }
    assert [lot.credits for lot in await _lots(subscription)] == [1100, 11700]
    await assert_ledger_consistent()


async def test_a_late_upgrade_does_not_buy_the_bigger_plans_whole_grant(kassa: Kassa) -> None:
    # given: the period's credits spent
    member = await kassa.member()
    subscription = await _subscribed(kassa, member)
    assert (await _consume(kassa, member, 1100, "spend-all"))["balance"] == 0
    premium = await CreditPlan.get(code=PREMIUM, active=True)

    # when: upgraded a day before renewal, Stripe prorates: 30.00 CNY charged
    proration = await _invoice(subscription, amount=3000, price_id=premium.stripe_price_id)
    proration["billing_reason"] = "subscription_update"
    await _deliver(kassa, "invoice.paid", proration)

    # then: 13000 x 30.00 / 1000.00, not 13000
    assert [lot.credits for lot in await _lots(subscription)] == [1100, 390]
    assert (await _state(kassa, member))["credits"]["balance"] == 390


async def test_an_invoice_charging_more_than_the_plan_is_refused(kassa: Kassa) -> None:
    member = await kassa.member()
    subscription = await _subscribed(kassa, member)

    too_much = await _invoice(subscription, amount=10001)
    event = await kassa.deliver_and_wait(stripe_event("invoice.paid", too_much))

    assert event.status in ("FAILED", "DEAD")
    assert (event.last_error or "").startswith("refused: SubscriptionMismatch")
    assert not await Payment.exists(stripe_invoice_id=too_much["id"])
    assert len(await _lots(subscription)) == 1


async def test_an_invoice_told_as_another_subscriptions_is_refused(kassa: Kassa) -> None:
    # given: A's renewal failed; B has a subscription of its own
    a, b = await kassa.member(), await kassa.member()
    ours, theirs = await _subscribed(kassa, a), await _subscribed(kassa, b)
    failed = await _invoice(ours, status="open")
    await _deliver(kassa, "invoice.payment_failed", failed)

    # when: A's invoice is told paid, as B's subscription's
    paid = await _invoice(theirs, invoice_id=failed["id"], intent_id=failed["payment_intent"])
    event = await kassa.deliver_and_wait(stripe_event("invoice.paid", paid))

    # then: refused, and neither organization's record moved
    assert (event.last_error or "").startswith("refused: SubscriptionMismatch"), event.last_error
    assert (await Payment.get(stripe_invoice_id=failed["id"])).status == "FAILED"
    assert [lot.credits for lot in await _lots(ours)] == [1100]
    await ours.refresh_from_db()
    assert ours.status == "PAST_DUE"


async def test_events_of_its_subscription_billing_another_customer_are_refused(
    kassa: Kassa,
) -> None:
    # given: A's subscription; B's Stripe customer
    a, b = await kassa.member(), await kassa.member()
    ours, theirs = await _subscribed(kassa, a), await _subscribed(kassa, b)
    renewal = {**await _invoice(ours), "customer": await _customer_of(theirs)}
    ended = fixture("subscription")
    ended.update(id=ours.stripe_subscription_id, status="canceled", customer=renewal["customer"])

    # when: Stripe's renewal and end of A's subscription are told as billing B's customer
    paid = await kassa.deliver_and_wait(stripe_event("invoice.paid", renewal))
    deleted = await kassa.deliver_and_wait(stripe_event("customer.subscription.deleted", ended))

    # then: both refused; A's subscription, payments and credits are as they were
    for event in (paid, deleted):
        assert (event.last_error or "").startswith("refused: SubscriptionMismatch"), event
    assert not await Payment.exists(stripe_invoice_id=renewal["id"])
    assert [lot.credits for lot in await _lots(ours)] == [1100]
    await ours.refresh_from_db()
    assert ours.status == "ACTIVE"


async def test_refund_of_a_subscription_invoice_claws_its_credits_back(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    subscription = await _subscribed(kassa, member)
    [payment] = await Payment.filter(subscription=subscription)

    # when
    refunded = await _refund(kassa, member.token, f"pay_{payment.id.hex}")

    # then
    assert refunded["refund"]["status"] in ("PENDING", "SUCCEEDED"), refunded
    deadline = time.monotonic() + WEBHOOK_GRACE_SECONDS
    while (await _state(kassa, member))["credits"]["balance"] != 0:
        assert time.monotonic() < deadline, "the credits were never clawed back"
        await asyncio.sleep(0.1)
    [lot] = await _lots(subscription)
    assert lot.remaining == 0
    await assert_ledger_consistent()


async def test_without_a_card_the_first_invoice_is_paid_in_the_browser(kassa: Kassa) -> None:
    # given
    member = await kassa.member()

    # when
    result = await _subscribe(kassa, member)

    # then: waiting for the browser
    assert result["subscription"]["status"] == "INCOMPLETE"
    secret = result["clientSecret"]
    assert secret
    subscription = await CreditSubscription.get(id=_uuid(result["subscription"]["id"]))

    # when: Stripe.js pays it; Stripe tells kassa
    await kassa.confirm_with_card(secret.split("_secret_")[0], VISA)
    [payment] = await Payment.filter(subscription=subscription)
    assert payment.stripe_invoice_id
    await _settled(payment.stripe_invoice_id, "invoice.payment_succeeded")

    # then
    await subscription.refresh_from_db()
    assert subscription.status == "ACTIVE"
    assert [lot.credits for lot in await _lots(subscription)] == [1100]


async def test_one_live_subscription_per_plan_and_bad_inputs(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    subscription = await _subscribed(kassa, member)
    kassa_id = f"csub_{subscription.id.hex}"
    stranger = await kassa.member()
    clerk_token = kassa.token(member.external_id, OrgRole.MEMBER)

    # when / then
    second = await _subscribe(kassa, member, paymentMethodId="pm_card_visa")
    assert (second["code"], second["field"]) == ("ALREADY_SUBSCRIBED", "planCode")
    unknown = await _subscribe(kassa, member, "no-such-plan")
    assert (unknown["code"], unknown["field"]) == ("NOT_FOUND", "planCode")
    for garbage in ("", "csub_zz", "pay_" + "0" * 32, "csub_" + "g" * 32, kassa_id + "\x00"):
        for query, fields in ((CANCEL, {}), (CHANGE, {"planCode": PREMIUM})):
            answer = await _mutate(kassa, member, query, subscriptionId=garbage, **fields)
            assert answer["code"] in ("NOT_FOUND", "INVALID_INPUT"), (garbage, answer)
    changed = await _mutate(kassa, member, CHANGE, subscriptionId=kassa_id, planCode="nope")
    assert (changed["code"], changed["field"]) == ("NOT_FOUND", "planCode")
    body = await kassa.gql(CANCEL, {"input": {"subscriptionId": kassa_id}}, clerk_token)
    assert body["data"]["cancelSubscription"]["code"] == "FORBIDDEN"
    foreign = await _mutate(kassa, stranger, CANCEL, subscriptionId=kassa_id)
    assert foreign["code"] == "NOT_FOUND"
    node = await kassa.gql(
        "query($id: ID!) { node(id: $id) { id } }", {"id": kassa_id}, stranger.token
    )
    assert node["data"]["node"] is None
    await subscription.refresh_from_db()
    assert (subscription.status, subscription.cancel_at_period_end) == ("ACTIVE", False)
