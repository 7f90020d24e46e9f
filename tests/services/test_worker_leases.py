"""Work one process does at a time (reconciling, sending refunds again) is claimed by a lease
row, not by a lock on a connection: nothing is held while the work calls Stripe."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from kassa.services.jobs import JobQueue

HOLD = timedelta(minutes=5)


@pytest.fixture
async def queues(database_url: str) -> AsyncIterator[tuple[JobQueue, JobQueue]]:
    first, second = JobQueue(database_url), JobQueue(database_url)
    await first.open()
    await second.open()
    yield first, second
    await first.close()
    await second.close()


async def test_one_holder_at_a_time_and_no_connection_held_meanwhile(
    queues: tuple[JobQueue, JobQueue],
) -> None:
    first, second = queues
    async with first.exclusive("test:lease", HOLD) as mine:
        assert mine
        async with second.exclusive("test:lease", HOLD) as theirs:
            assert not theirs
        # The holder's pool has every connection back while the work would run.
        assert first.idle_connections() == first.open_connections()
    async with second.exclusive("test:lease", HOLD) as theirs:
        assert theirs


async def test_a_lease_whose_holder_died_runs_out(queues: tuple[JobQueue, JobQueue]) -> None:
    first, second = queues
    holding = first.exclusive("test:dead-holder", timedelta(milliseconds=200))
    assert await holding.__aenter__()  # and never given back: its process died
    async with second.exclusive("test:dead-holder", HOLD) as theirs:
        assert not theirs
    await asyncio.sleep(0.3)
    async with second.exclusive("test:dead-holder", HOLD) as theirs:
        assert theirs
    await holding.__aexit__(None, None, None)  # a late give-back frees nothing of theirs
