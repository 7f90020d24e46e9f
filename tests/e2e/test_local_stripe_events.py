"""The local Stripe server (demo and tests) completes what it starts, as Stripe would: a
card saved, attached, detached or refunded there is told to kassa by its own signed events;
and `kassa stripe setup` makes the webhook endpoint kassa needs."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import httpx
import stripe

from kassa.demo.local_stripe import SECRET_KEY, LocalStripe
from kassa.models import StripeEvent, StripeEventStatus
from kassa.services.stripe_events import HANDLERS
from kassa.services.stripe_gateway import API_VERSION
from tests.e2e.test_refunds import _refund
from tests.e2e.test_saved_cards import CARDS, DETACH, SETUP
from tests.support import JSON, Kassa, Member, fixture, stripe_event

PAID_BY_VISA = """
mutation TopUp($org: ID!) {
  topUpWallet(input: {organizationId: $org, amount: "20.00", currency: "usd",
                      paymentMethodId: "pm_card_visa"}) {
    ... on PaymentIntentCreated { payment { id status stripePaymentIntentId } }
    ... on Error { code message field }
  }
}
"""


REFUNDED = "query Refunded($id: ID!) { payment(id: $id) { amountRefunded { amount } } }"


async def _cards_once_there(kassa: Kassa, member: Member, count: int) -> list[JSON]:
    deadline = time.monotonic() + 15
    while True:
        body = await kassa.gql(CARDS, {"org": member.organization_id}, member.token)
        cards: list[JSON] = body["data"]["organization"]["paymentMethods"]
        if len(cards) == count or time.monotonic() > deadline:
            return cards
        await asyncio.sleep(0.1)


async def _events_about(object_id: str, types: set[str]) -> list[StripeEvent]:
    """Events of `types` naming `object_id`, once each has arrived and been handled."""
    deadline = time.monotonic() + 15
    while True:
        events = await StripeEvent.filter(object_id=object_id, type__in=types)
        handled = [e for e in events if e.status not in ("PENDING", "FAILED")]
        if {e.type for e in handled} == types or time.monotonic() > deadline:
            return handled
        await asyncio.sleep(0.1)


async def test_a_card_saved_on_the_local_server_appears_and_goes_by_its_events(
    kassa: Kassa,
) -> None:
    # given: a SetupIntent confirmed as the browser's Stripe.js does, and nothing else
    member = await kassa.member()
    setup = await kassa.gql(SETUP, {"org": member.organization_id}, member.token)
    intent_id = setup["data"]["createSetupIntent"]["setupIntentId"]
    await kassa.stripe.v1.setup_intents.confirm_async(intent_id, {"payment_method": "pm_card_visa"})

    # then: the server's setup_intent.succeeded and payment_method.attached save the card
    cards = await _cards_once_there(kassa, member, 1)
    assert [(card["card"]["last4"], card["isDefault"]) for card in cards] == [("4242", True)]
    method = (await kassa.stripe.v1.setup_intents.retrieve_async(intent_id)).payment_method
    assert isinstance(method, str)
    arrived = await _events_about(method, {"payment_method.attached"})
    assert [e.status for e in arrived] == [StripeEventStatus.PROCESSED]
    assert [e.api_version for e in arrived] == [API_VERSION]

    # when: detached through kassa, the server's payment_method.detached agrees
    await kassa.gql(DETACH, {"id": cards[0]["id"]}, member.token)
    detached = await _events_about(method, {"payment_method.detached"})
    assert [e.status for e in detached] == [StripeEventStatus.PROCESSED]
    assert await _cards_once_there(kassa, member, 0) == []


async def test_a_refund_on_the_local_server_sends_stripes_refund_events(kassa: Kassa) -> None:
    # given: a paid top-up
    member = await kassa.member()
    body = await kassa.gql(PAID_BY_VISA, {"org": member.organization_id}, member.token)
    payment = body["data"]["topUpWallet"]["payment"]
    assert payment["status"] == "SUCCEEDED"

    # when
    refunded = await _refund(kassa, member.token, payment["id"], amount="5.00")

    # then: refund.created and charge.refunded arrive, agree with kassa's record, change nothing
    assert refunded["refund"]["status"] == "SUCCEEDED", refunded
    charge = (await kassa.payment(member, payment["id"]))["stripeChargeId"]
    refunds = await kassa.stripe.v1.refunds.list_async({"charge": charge})
    arrived = await _events_about(refunds.data[0].id, {"refund.created"})
    arrived += await _events_about(charge, {"charge.refunded"})
    assert sorted((e.type, e.status) for e in arrived) == [
        ("charge.refunded", StripeEventStatus.PROCESSED),
        ("refund.created", StripeEventStatus.PROCESSED),
    ], [(e.type, e.status, e.last_error) for e in arrived]
    after = await kassa.gql(REFUNDED, {"id": payment["id"]}, member.token)
    assert after["data"]["payment"]["amountRefunded"]["amount"] == "5.00"


async def test_stripe_setup_makes_the_endpoint_kassa_needs(
    kassa: Kassa, local_stripe: LocalStripe
) -> None:
    # given: a receiver for the endpoint's events (kassa's own webhook is served by this
    # test's event loop, which must keep running: the local server delivers in turn)
    received: list[tuple[bytes, str]] = []
    server, url = _receiver(received)

    # when
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "kassa.cli", "stripe", "setup", "--url", url],
        env={
            **os.environ,
            "STRIPE_SECRET_KEY": SECRET_KEY,
            "STRIPE_API_BASE": local_stripe.api_base,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()

    # then: exactly the events kassa handles, at kassa's API version, and the secret
    assert process.returncode == 0, stderr.decode()
    secret = stdout.decode().strip()
    assert secret.startswith("whsec_")
    endpoint_id = stderr.decode().split()[2].rstrip(":")
    auth = {"Authorization": f"Bearer {SECRET_KEY}"}
    local = httpx.AsyncClient(base_url=local_stripe.api_base, headers=auth)
    endpoint = await local.get(f"/v1/webhook_endpoints/{endpoint_id}")
    assert sorted(endpoint.json()["enabled_events"]) == sorted(HANDLERS)
    assert endpoint.json()["api_version"] == API_VERSION
    assert "secret" not in endpoint.json()

    # and: an event for it arrives signed with that secret (a customer.created does not)
    customer = await local.post("/v1/customers", data={})
    method = await local.post(
        "/v1/payment_methods/pm_card_visa/attach", data={"customer": customer.json()["id"]}
    )
    await local.aclose()
    assert method.status_code == 200, method.text
    for _ in range(100):
        if received:
            break
        await asyncio.sleep(0.1)
    server.shutdown()
    server.server_close()
    assert received, "no event reached the endpoint"
    payload, signature = received[0]
    event = stripe.Webhook.construct_event(payload, signature, secret)
    assert (event.type, event.api_version) == ("payment_method.attached", API_VERSION)
    assert len(received) == 1


def _receiver(received: list[tuple[bytes, str]]) -> tuple[Any, str]:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, self.headers["Stripe-Signature"]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/webhooks/stripe"


async def test_an_event_of_another_api_version_is_stored_flagged_and_not_applied(
    kassa: Kassa,
) -> None:
    # given: a payment_method.attached written for another API version
    method: dict[str, Any] = fixture("payment_method")
    method.update(id=f"pm_other_version_{uuid.uuid4().hex[:8]}", customer="cus_nobody")
    event = json.loads(stripe_event("payment_method.attached", method))
    event["api_version"] = "2099-01-01.future"
    payload = json.dumps(event)

    # when
    stored = await kassa.deliver_and_wait(payload)

    # then: kept, dead, saying why; counted; listed
    assert stored.status == StripeEventStatus.DEAD
    assert stored.attempts == 0
    assert stored.last_error is not None
    assert stored.last_error.startswith("other API version: 2099-01-01.future")
    metrics = (await kassa.http.get("/metrics")).text
    assert 'kassa_stripe_events_other_api_version{api_version="2099-01-01.future"}' in metrics

    # and: a replay does not apply it either
    await StripeEvent.filter(id=stored.id).update(status=StripeEventStatus.FAILED)
    from kassa.services import stripe_events

    processed = await stripe_events.process(stored.id, max_attempts=12)
    assert processed.status == StripeEventStatus.DEAD


async def test_the_local_server_lists_intents_and_refunds_newest_first_as_stripe_does(
    kassa: Kassa,
) -> None:
    # given: three intents made one after another, and two refunds of one charge
    made = [
        (await kassa.stripe.v1.payment_intents.create_async({"amount": 100 + i, "currency": "usd"}))
        for i in range(3)
    ]
    member = await kassa.member()
    body = await kassa.gql(PAID_BY_VISA, {"org": member.organization_id}, member.token)
    payment = body["data"]["topUpWallet"]["payment"]
    first = await _refund(kassa, member.token, payment["id"], amount="1.00")
    second = await _refund(kassa, member.token, payment["id"], amount="2.00")
    charge = (await kassa.payment(member, payment["id"]))["stripeChargeId"]

    # when
    newest = await kassa.stripe.v1.payment_intents.list_async({"limit": 2})
    older = await kassa.stripe.v1.payment_intents.list_async(
        {"limit": 1, "starting_after": newest.data[-1].id}
    )
    refunds = await kassa.stripe.v1.refunds.list_async({"charge": charge})

    # then: the top-up's intent is the newest; paging goes back in time
    assert [i.id for i in newest.data] == [payment["stripePaymentIntentId"], made[2].id]
    assert [i.id for i in older.data] == [made[1].id]
    assert [r.amount for r in refunds.data] == [200, 100], (first, second)
