"""`GET /metrics` in Prometheus text format.

Webhook latency is measured in this process; event counts and processing lag are read
from the inbox at scrape time, so they are the same whichever process is scraped and
include what workers on other machines did.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from kassa.services import stripe_events

REGISTRY = CollectorRegistry()
WEBHOOK_SECONDS = Histogram(
    "kassa_webhook_request_seconds",
    "Time to verify, store and queue one Stripe webhook delivery",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=REGISTRY,
)
WEBHOOK_RESPONSES = Counter(
    "kassa_webhook_responses",
    "Stripe webhook deliveries answered, by HTTP status",
    ["status"],
    registry=REGISTRY,
)

Endpoint = Callable[[Request], Awaitable[Response]]


def timed_webhook(endpoint: Endpoint) -> Endpoint:
    async def timed(request: Request) -> Response:
        started = time.perf_counter()
        response = await endpoint(request)
        WEBHOOK_SECONDS.observe(time.perf_counter() - started)
        WEBHOOK_RESPONSES.labels(status=str(response.status_code)).inc()
        return response

    return timed


async def metrics(request: Request) -> Response:
    stats = await stripe_events.stats()
    body = generate_latest(REGISTRY) + _exposition(_inbox_families(stats))
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _inbox_families(stats: stripe_events.InboxStats) -> list[GaugeMetricFamily]:
    events = GaugeMetricFamily(
        "kassa_stripe_events",
        "Stripe events received, by type and status (PROCESSED = applied, DEAD = given up)",
        labels=["type", "status"],
    )
    for event_type, status, count in stats.by_type_and_status:
        events.add_metric([event_type, status.lower()], count)
    lag = GaugeMetricFamily(
        "kassa_stripe_event_processing_lag_seconds",
        "Age of the oldest event not handled yet (0 when none waits)",
        value=stats.oldest_unhandled_seconds,
    )
    return [
        events,
        _counted(
            "kassa_stripe_event_retries",
            "Processing attempts beyond the first, by type",
            "type",
            stats.retried_by_type,
        ),
        lag,
        _counted(
            "kassa_stripe_events_refused",
            "Events not applied because their money disagrees with kassa's record, by type",
            "type",
            stats.refused_by_type,
        ),
        _counted(
            "kassa_stripe_events_other_api_version",
            "Events written for another Stripe API version than kassa pins: stored, not applied",
            "api_version",
            stats.other_api_version,
        ),
    ]


def _counted(
    name: str, documentation: str, label: str, counts: list[tuple[str, int]]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for value, count in counts:
        family.add_metric([value], count)
    return family


def _exposition(families: list[GaugeMetricFamily]) -> bytes:
    registry = CollectorRegistry()

    class Snapshot:
        def collect(self) -> list[GaugeMetricFamily]:
            return families

    registry.register(Snapshot())
    return generate_latest(registry)
