"""What an operator's Prometheus and load balancer see."""

from __future__ import annotations

import re

from tests.support import Kassa, payment_intent_event


def _sample(text: str, name: str, **labels: str) -> float | None:
    label_text = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    pattern = re.escape(name) + (r"\{" + re.escape(label_text) + r"\}" if labels else "")
    match = re.search(rf"^{pattern} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


async def test_metrics_count_events_by_type_and_status_and_time_webhooks(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    created = await kassa.top_up(member, "2.50")
    event = payment_intent_event(
        "payment_intent.succeeded",
        created["payment"]["stripePaymentIntentId"],
        amount=250,
        status="succeeded",
    )
    before = (await kassa.http.get("/metrics")).text
    await kassa.deliver_and_wait(event)

    # when
    response = await kassa.http.get("/metrics")

    # then
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    applied = {"type": "payment_intent.succeeded", "status": "processed"}
    assert (_sample(after, "kassa_stripe_events", **applied) or 0) == (
        _sample(before, "kassa_stripe_events", **applied) or 0
    ) + 1
    assert (_sample(after, "kassa_webhook_request_seconds_count") or 0) >= 1
    assert _sample(after, "kassa_webhook_responses_total", status="200") is not None
    assert _sample(after, "kassa_stripe_event_processing_lag_seconds") is not None


async def test_readiness_and_health(kassa: Kassa) -> None:
    assert (await kassa.http.get("/healthz")).json() == {"status": "ok"}
    assert (await kassa.http.get("/readyz")).json() == {"status": "ready"}
