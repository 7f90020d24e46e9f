"""`POST /webhooks/stripe` against what arrives from Stripe and from anyone else."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from kassa.app import create_app
from kassa.models import StripeEvent
from tests.support import Kassa, payment_intent_event


def _event_id(payload: str) -> str:
    event_id: str = json.loads(payload)["id"]
    return event_id


def _unknown_type_event() -> str:
    return payment_intent_event(
        "payment_intent.amount_capturable_updated", "pi_unknown", amount=100, status="processing"
    )


async def _assert_rejected(kassa: Kassa, payload: str, signature: str | None, status: int) -> None:
    response = await kassa.deliver(payload, signature)
    assert response.status_code == status, response.text
    assert "error" in response.json()
    assert not await StripeEvent.exists(id=_event_id(payload))


async def test_missing_signature_is_rejected(kassa: Kassa) -> None:
    await _assert_rejected(kassa, _unknown_type_event(), None, 400)


async def test_signature_with_another_secret_is_rejected(kassa: Kassa) -> None:
    payload = _unknown_type_event()
    await _assert_rejected(kassa, payload, kassa.sign(payload, secret="whsec_other"), 400)


async def test_body_changed_after_signing_is_rejected(kassa: Kassa) -> None:
    payload = _unknown_type_event()
    signature = kassa.sign(payload)
    tampered = payload.replace('"amount": 100', '"amount": 900')
    assert tampered != payload
    await _assert_rejected(kassa, tampered, signature, 400)


@pytest.mark.parametrize("age_seconds", [301, -301], ids=["301s-old", "301s-future"])
async def test_timestamp_outside_five_minutes_is_rejected(kassa: Kassa, age_seconds: int) -> None:
    payload = _unknown_type_event()
    signature = kassa.sign(payload, timestamp=int(time.time()) - age_seconds)
    await _assert_rejected(kassa, payload, signature, 400)


@pytest.mark.parametrize(
    "timestamp", ["+{ts}", " {ts}", "{ts_underscored}", "\u00b9", "9" * 5000, "", "abc"]
)
async def test_timestamp_not_written_as_plain_digits_is_rejected(
    kassa: Kassa, timestamp: str
) -> None:
    # given: a genuine signature over a timestamp an hour ahead, written the way int() reads
    payload = _unknown_type_event()
    future = int(time.time()) + 3600
    signature = kassa.sign(payload, timestamp=future).split(",", 1)[1]
    written = timestamp.format(ts=future, ts_underscored=f"{future:_}")

    # then
    await _assert_rejected(kassa, payload, f"t={written},{signature}", 400)


async def test_only_a_v0_signature_is_rejected(kassa: Kassa) -> None:
    payload = _unknown_type_event()
    v0_only = kassa.sign(payload).replace("v1=", "v0=")
    await _assert_rejected(kassa, payload, v0_only, 400)


async def test_body_that_is_not_utf8_is_rejected(kassa: Kassa) -> None:
    body = b'{"id": "evt_\xff"}'
    response = await kassa.http.post(
        "/webhooks/stripe", content=body, headers={"Stripe-Signature": "t=1,v1=00"}
    )
    assert response.status_code == 400


async def test_signed_body_that_is_not_an_event_is_rejected(kassa: Kassa) -> None:
    payload = "[1, 2, 3]"
    response = await kassa.deliver(payload, kassa.sign(payload))
    assert response.status_code == 400


async def test_body_over_one_mebibyte_is_rejected(kassa: Kassa) -> None:
    payload = _unknown_type_event()
    padded = payload[:-1] + ', "padding": "' + "x" * (1024 * 1024) + '"}'
    await _assert_rejected(kassa, padded, kassa.sign(padded), 413)


async def test_two_v1_signatures_one_valid_is_accepted(kassa: Kassa) -> None:
    # given: Stripe signs with the old and the new secret while a secret is rolled
    payload = _unknown_type_event()
    valid = kassa.sign(payload)
    other = kassa.sign(payload, secret="whsec_rolled_out").split(",")[1]

    # when
    response = await kassa.deliver(payload, f"{valid},{other}")

    # then
    assert response.status_code == 200
    assert await StripeEvent.exists(id=_event_id(payload))


async def test_unknown_event_type_is_stored_and_ignored(kassa: Kassa) -> None:
    payload = _unknown_type_event()

    stored = await kassa.deliver_and_wait(payload)

    assert stored.status == "IGNORED"
    assert stored.payload == payload
    assert stored.headers["stripe-signature"].startswith("t=")


async def test_event_from_live_mode_is_stored_and_ignored(kassa: Kassa) -> None:
    event = json.loads(
        payment_intent_event("payment_intent.succeeded", "pi_live", amount=100, status="succeeded")
    )
    event["livemode"] = True
    payload = json.dumps(event)

    response = await kassa.deliver(payload, kassa.sign(payload))

    assert response.status_code == 200
    stored = await StripeEvent.get(id=event["id"])
    assert stored.status == "IGNORED"
    assert "livemode" in (stored.last_error or "")


async def test_event_for_a_payment_kassa_does_not_know_is_kept_for_retry(kassa: Kassa) -> None:
    payload = payment_intent_event(
        "payment_intent.succeeded", "pi_not_known_here", amount=100, status="succeeded"
    )

    stored = await kassa.deliver_and_wait(payload)

    # stored and kept for another attempt
    assert stored.status == "FAILED"
    assert stored.next_attempt_at is not None
    assert "UnknownPaymentIntent" in (stored.last_error or "")


async def test_without_a_webhook_secret_nothing_is_stored(kassa: Kassa, database_url: str) -> None:
    # given: a kassa whose operator has not configured the webhook secret
    app = create_app(kassa.settings.with_overrides(stripe_webhook_secret=None), database_url)
    payload = _unknown_type_event()

    # when
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://kassa"
    ) as client:
        response = await client.post(
            "/webhooks/stripe", content=payload, headers={"Stripe-Signature": kassa.sign(payload)}
        )

    # then
    assert response.status_code == 503
    assert not await StripeEvent.exists(id=_event_id(payload))


@pytest.mark.parametrize(
    "change",
    [
        {"created": 10**12},
        {"created": -5},
        {"created": "yesterday"},
        {"id": "evt_" + "x" * 300},
        {"id": "evt_tab\t"},
        {"type": "t" * 101},
        {"api_version": ["2024-06-20"]},
    ],
    ids=["far-future", "negative", "text", "long-id", "tab-id", "long-type", "list-version"],
)
async def test_signed_event_with_unstorable_fields_is_400(
    kassa: Kassa, change: dict[str, object]
) -> None:
    event = json.loads(_unknown_type_event())
    event.update(change)
    payload = json.dumps(event)

    response = await kassa.deliver(payload, kassa.sign(payload))

    assert response.status_code == 400
    assert "not a Stripe event" in response.json()["error"]


async def test_event_whose_object_cannot_be_read_is_dead_at_once(kassa: Kassa) -> None:
    event = json.loads(
        payment_intent_event("payment_intent.succeeded", "pi_x", amount=100, status="succeeded")
    )
    del event["data"]["object"]["id"]
    payload = json.dumps(event)

    stored = await kassa.deliver_and_wait(payload)

    assert stored.status == "DEAD"
    assert stored.attempts == 1
    assert "KeyError" in (stored.last_error or "")


@pytest.mark.parametrize("where", ["object-id", "event-id", "type", "account"])
async def test_signed_event_holding_a_nul_is_kept_escaped_and_dead_with_a_2xx(
    kassa: Kassa, where: str
) -> None:
    # A 4xx or 5xx would make Stripe deliver it again for days; stored, it stays visible.
    event = json.loads(
        payment_intent_event("payment_intent.succeeded", "pi_nul", amount=100, status="succeeded")
    )
    field = {"event-id": "id", "type": "type", "account": "account"}.get(where)
    if field is None:
        event["data"]["object"]["id"] = "pi_nul\x00x"
    else:
        event[field] = f"{event.get(field) or 'acct_x'}\x00x"
    payload = json.dumps(event)

    first = await kassa.deliver(payload, kassa.sign(payload))
    again = await kassa.deliver(payload, kassa.sign(payload))

    assert (first.status_code, again.status_code) == (200, 200), first.text
    stored = await StripeEvent.get(id=event["id"].replace("\x00", "\\u0000"))
    assert stored.status == "DEAD"
    assert stored.attempts == 0
    assert "NUL" in (stored.last_error or "")
    assert stored.payload == payload
    if where == "object-id":
        assert stored.object_id == "pi_nul\\u0000x"


async def test_signed_event_with_an_object_id_too_long_to_index_is_stored(kassa: Kassa) -> None:
    event = json.loads(_unknown_type_event())
    event["data"]["object"]["id"] = "pi_" + "x" * 300
    payload = json.dumps(event)

    stored = await kassa.deliver_and_wait(payload)

    assert stored.status == "IGNORED"
    assert stored.object_id is None
