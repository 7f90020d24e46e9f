"""kassa's pages over HTTP: who gets them, under which policy, and what they never show."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from kassa.app import create_app
from kassa.config import Environment, Settings
from kassa.models import OutboxMessage, SavedCard
from kassa.services import pay_links
from tests.support import Kassa, fixture, stripe_event


async def test_the_storefront_is_a_development_page_with_its_own_token(
    kassa: Kassa, settings: Settings
) -> None:
    response = await kassa.http.get("/")

    assert response.status_code == 200
    assert 'name="kassa-token"' in response.text
    assert response.headers["Cache-Control"] == "no-store"
    policy = response.headers["Content-Security-Policy"]
    stripe_origin = settings.stripe_js_url.removesuffix("/js.stripe.com/v3/")
    assert f"script-src 'self' {stripe_origin};" in policy
    assert "http" not in policy.replace(stripe_origin, "")


async def test_production_has_no_storefront(settings: Settings, database_url: str) -> None:
    app = create_app(settings.with_overrides(environment=Environment.PRODUCTION), database_url)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kassa.test") as client:
        response = await client.get("/")

    assert response.status_code == 404
    assert "kassa-token" not in response.text


async def test_the_status_of_an_unknown_session_says_unknown_and_nothing_else(
    kassa: Kassa,
) -> None:
    for session_id in ("cs_test_nobody", "", "cs_\x00", "cs_" + "x" * 5000):
        response = await kassa.http.get("/checkout/status", params={"session_id": session_id})
        assert response.json() == {"status": "unknown"}


async def test_a_link_confirms_only_json_and_only_a_card_of_the_payers_own(
    kassa: Kassa,
) -> None:
    # given
    member = await kassa.member()
    created = await kassa.top_up(member, "5.00")
    payment_id = uuid.UUID(created["payment"]["id"].removeprefix("pay_"))
    link = pay_links.link_path(kassa.settings, payment_id)

    # when
    form = await kassa.http.post(f"{link}/confirm", data={"paymentMethodId": "pm_card_visa"})
    saved = await kassa.http.post(f"{link}/confirm", json={"paymentMethodId": "card_0123"})
    tampered = await kassa.http.post(
        f"{link[:-2]}xx/confirm", json={"paymentMethodId": "pm_card_visa"}
    )

    # then
    assert form.status_code == 415
    assert saved.status_code == 409 and saved.json()["error"]["code"] == "INVALID_INPUT"
    assert tampered.status_code == 404 and "status" not in tampered.json()
    assert (await kassa.payment(member, created["payment"]["id"]))["status"] == (
        "REQUIRES_PAYMENT_METHOD"
    )


async def test_a_card_set_up_for_no_customer_is_nobodys_saved_card(kassa: Kassa) -> None:
    # given a SetupIntent the payment page or the storefront made for one payment
    intent: dict[str, Any] = fixture("setup_intent")
    method_id = f"pm_{uuid.uuid4().hex[:24]}"
    intent.update(status="succeeded", payment_method=method_id, customer=None)

    # when
    event = await kassa.deliver_and_wait(stripe_event("setup_intent.succeeded", intent))

    # then
    assert event.status == "PROCESSED"
    assert not await OutboxMessage.filter(dedupe_key__contains=method_id).exists()
    assert not await SavedCard.filter(stripe_payment_method_id=method_id).exists()
