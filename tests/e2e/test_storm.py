"""Storms of duplicated, shuffled Stripe events against several worker processes."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cluster import (
    Cluster,
    create_payments,
    ledger_report,
    new_database,
    post_all,
    remove_database,
    succeeded_events,
    wait_until_applied,
)

STORM_EVENTS = 1000
CRASH_EVENTS = 300
CRASH_KILLS = 30


@pytest.fixture
async def cluster(database_server_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    cluster = Cluster(await new_database(database_server_url), logs=tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop()
        await remove_database(cluster.database_url)


async def test_storm_of_duplicates_applies_each_event_once(cluster: Cluster) -> None:
    # given: 1,000 payments, and Stripe delivering each success event three times, shuffled
    payments = await create_payments(cluster.database_url, STORM_EVENTS, organizations=25)
    deliveries = succeeded_events(payments) * 3
    random.Random(7).shuffle(deliveries)
    await cluster.start(workers=3)

    # when
    statuses = await post_all(cluster.base_url, deliveries, concurrency=24)
    handled = await wait_until_applied(cluster.database_url, STORM_EVENTS)

    # then
    assert set(statuses) == {200}
    assert handled == STORM_EVENTS
    assert await ledger_report(cluster.database_url) == {
        "transfers": STORM_EVENTS,
        "paid": STORM_EVENTS,
        "payments_with_extra_transfers": 0,
        "units_not_summing_to_zero": 0,
        "balances_not_matching_transfers": 0,
        "wallet_total": sum(amount for _, amount in payments),
    }


async def test_workers_killed_at_random_lose_and_duplicate_nothing(cluster: Cluster) -> None:
    # given
    payments = await create_payments(cluster.database_url, CRASH_EVENTS, organizations=10)
    deliveries = succeeded_events(payments) * 3
    random.Random(11).shuffle(deliveries)
    await cluster.start(workers=3)
    rng = random.Random(13)

    # when: workers are killed with SIGKILL and restarted while the storm arrives
    async def killer() -> None:
        for _ in range(CRASH_KILLS):
            await asyncio.sleep(rng.uniform(0.05, 0.3))
            cluster.kill_random_worker(rng)

    statuses, _ = await asyncio.gather(
        post_all(cluster.base_url, deliveries, concurrency=8), killer()
    )
    handled = await wait_until_applied(cluster.database_url, CRASH_EVENTS)

    # then
    assert set(statuses) == {200}
    assert handled == CRASH_EVENTS
    report = await ledger_report(cluster.database_url)
    assert report == {
        "transfers": CRASH_EVENTS,
        "paid": CRASH_EVENTS,
        "payments_with_extra_transfers": 0,
        "units_not_summing_to_zero": 0,
        "balances_not_matching_transfers": 0,
        "wallet_total": sum(amount for _, amount in payments),
    }
