"""PostgreSQL restarting or stopping under a running deployment (issue 11, items 1 and 7):
while it is down kassa answers 503 with Retry-After; when it is back every process carries
on by itself, and events stored meanwhile are applied without anyone restarting a worker."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time

import httpx
import pytest

from kassa.services.identity import OrgRole, issue_dev_token
from tests.cluster import JWT_SECRET, Cluster, create_payments, succeeded_events
from tests.e2e.test_live_updates import _next, _payment, _subscribe, _token
from tests.faults.postgres import Postgres
from tests.faults.timing import deliver_until_accepted, post_event, seconds_until_applied

BATCH = 10
# A worker backs off at most a few seconds between attempts; this leaves room for a slow
# machine without letting a dead worker pass.
RESUME_LIMIT_SECONDS = 20
# Longer than one reconnection attempt may take (5 s) plus a margin; far below a kill timeout.
STOP_LIMIT_SECONDS = 8
VIEWER = "{ viewer { organizations { organization { id } } } }"


@pytest.mark.parametrize("down_seconds", [0, 20], ids=["restart", "stopped-20s"])
async def test_worker_applies_pending_events_after_postgres_comes_back(
    cluster: Cluster, fault_postgres: Postgres, down_seconds: int
) -> None:
    # given: a worker at work
    events = succeeded_events(await create_payments(cluster.database_url, 3 * BATCH, 3))
    await cluster.start(workers=1)
    [worker] = cluster.workers
    await deliver_until_accepted(cluster.base_url, events[:BATCH], limit=20)
    await seconds_until_applied(cluster.database_url, BATCH, limit=30)

    # when: events are stored and queued, and PostgreSQL restarts (or stops for a while)
    # before the worker gets to them (it is frozen meanwhile, so they certainly wait)
    worker.send_signal(signal.SIGSTOP)
    try:
        await deliver_until_accepted(cluster.base_url, events[BATCH : 2 * BATCH], limit=20)
        await _take_down(fault_postgres, down_seconds, worker)
    finally:
        worker.send_signal(signal.SIGCONT)
    back = time.monotonic()

    # then: the same worker process applies them by itself, soon after the database is back
    await seconds_until_applied(cluster.database_url, 2 * BATCH, limit=RESUME_LIMIT_SECONDS)
    resumed = time.monotonic() - back
    assert worker.poll() is None, _tail(cluster, "worker-0.log")
    # and events arriving afterwards are applied as usual
    await deliver_until_accepted(cluster.base_url, events[2 * BATCH :], limit=20)
    await seconds_until_applied(cluster.database_url, 3 * BATCH, limit=RESUME_LIMIT_SECONDS)
    print(f"\nworker resumed {resumed:.2f} s after PostgreSQL was back (down {down_seconds} s)")


async def test_worker_stops_promptly_on_sigterm_while_postgres_is_down(
    cluster: Cluster, fault_postgres: Postgres
) -> None:
    # given: a worker waiting for the database to come back
    await cluster.start(workers=1)
    [worker] = cluster.workers
    await _worker_said(cluster, "kassa worker: running", limit=20)
    fault_postgres.stop()
    await asyncio.sleep(3)

    # when
    started = time.monotonic()
    worker.send_signal(signal.SIGTERM)

    # then
    code = await asyncio.to_thread(worker.wait, timeout=STOP_LIMIT_SECONDS)
    assert code == 0, _tail(cluster, "worker-0.log")
    print(f"\nworker stopped {time.monotonic() - started:.2f} s after SIGTERM, database down")


async def test_database_down_answers_503_with_retry_after_then_recovers(
    cluster: Cluster, fault_postgres: Postgres
) -> None:
    # given: `kassa serve` with its in-process worker, answering
    cluster.overrides["KASSA_WORKER_IN_PROCESS"] = "true"
    [event] = succeeded_events(await create_payments(cluster.database_url, 1, 1))
    await cluster.start(workers=0)
    async with httpx.AsyncClient(base_url=cluster.base_url, timeout=15) as client:
        assert (await _viewer(client)).status_code == 200

        # when: the database is stopped
        fault_postgres.stop()
        try:
            started = time.monotonic()
            down = {
                "graphql": await _viewer(client),
                "webhook": await post_event(client, event),
                "readyz": await client.get("/readyz"),
            }
            answered = (time.monotonic() - started) / len(down)
        finally:
            fault_postgres.start()
        back = time.monotonic()

        # then: each says "unavailable, retry later", not 200 or a bare 500
        for route, response in down.items():
            assert response.status_code == 503, (route, response.status_code, response.text)
            assert int(response.headers["retry-after"]) > 0, route
        errors = down["graphql"].json()["errors"]
        assert [error["extensions"]["code"] for error in errors] == ["UNAVAILABLE"]
        print(f"\n503 answered in {answered * 1000:.0f} ms on average while PostgreSQL was down")

        # and then: it answers again, and its in-process worker applies events again
        await _wait_ready(client, limit=10)
        assert (await _viewer(client)).status_code == 200
        print(f"ready again {time.monotonic() - back:.2f} s after PostgreSQL was back")
        await deliver_until_accepted(cluster.base_url, [event], limit=10)
        await seconds_until_applied(cluster.database_url, 1, limit=RESUME_LIMIT_SECONDS)
        print(f"in-process worker applied an event {time.monotonic() - back:.2f} s after")
    assert cluster.server is not None and cluster.server.poll() is None


async def _take_down(postgres: Postgres, seconds: int, worker: subprocess.Popen[bytes]) -> None:
    if not seconds:
        postgres.restart()
        return
    postgres.stop()
    try:
        # Awake for the outage: it must live through it, not just notice it afterwards.
        worker.send_signal(signal.SIGCONT)
        await asyncio.sleep(seconds)
    finally:
        postgres.start()


async def _worker_said(cluster: Cluster, line: str, limit: float) -> None:
    deadline = time.monotonic() + limit
    while line not in (cluster.logs / "worker-0.log").read_text(errors="replace"):
        assert time.monotonic() < deadline, f"the worker did not say {line!r} within {limit} s"
        await asyncio.sleep(0.1)


async def _viewer(client: httpx.AsyncClient) -> httpx.Response:
    token = issue_dev_token(
        secret=JWT_SECRET,
        issuer="kassa",
        audience="kassa",
        org_id="org-fault",
        role=OrgRole.OWNER,
        subject="user-1",
        now=int(time.time()),
    )
    return await client.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": f"Bearer {token}"}
    )


async def _wait_ready(client: httpx.AsyncClient, limit: float) -> None:
    deadline = time.monotonic() + limit
    while (await client.get("/readyz")).status_code != 200:
        assert time.monotonic() < deadline, f"not ready within {limit} s"
        await asyncio.sleep(0.1)


def _tail(cluster: Cluster, log_name: str) -> str:
    return (cluster.logs / log_name).read_text(errors="replace")[-3000:]


async def test_an_open_subscription_hears_of_changes_after_postgres_restarts(
    cluster: Cluster, fault_postgres: Postgres
) -> None:
    # given: a subscriber to a payment, on `kassa serve`; a worker process applies events
    payments = await create_payments(cluster.database_url, 1, organizations=1)
    payment_id, organization = await _payment(cluster.database_url, payments[0][0])
    await cluster.start(workers=1)
    socket = await _subscribe(cluster, _token(organization), payment_id)
    try:
        await _next(socket)

        # when: PostgreSQL restarts, and then the payment succeeds
        fault_postgres.restart()
        await deliver_until_accepted(cluster.base_url, succeeded_events(payments), limit=20)

        # then: the open subscription still hears of it
        update = await _next(socket)
        while update["payload"]["data"]["paymentUpdated"]["status"] != "SUCCEEDED":
            update = await _next(socket)
    finally:
        await socket.close()
    assert update["payload"]["data"]["paymentUpdated"] == {"id": payment_id, "status": "SUCCEEDED"}
