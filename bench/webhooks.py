"""Benchmark: Stripe webhook throughput and ack latency of kassa, against pgbench.

Run from the repository root with the project's virtualenv (`python bench/webhooks.py`);
it needs nothing running: everything is started and stopped here, on 127.0.0.1 and a
throw-away embedded PostgreSQL in a temporary directory:

    .venv/bin/python bench/webhooks.py             # default run, 2-3 minutes on 2 CPUs
    .venv/bin/python bench/webhooks.py --quick     # smoke run, well under a minute
    .venv/bin/python bench/webhooks.py --events 5000 --seconds 30
    .venv/bin/python bench/webhooks.py --servers 2 --workers 4     # several processes
    .venv/bin/python bench/webhooks.py --profile   # + statements and Python functions per event

What it measures (the goals are from the issue that asked for this benchmark):

1. Throughput, for 4 and 16 concurrent senders: N fresh `WALLET_TOP_UP` payments of one new
   organization are written straight into the database, then their signed
   `payment_intent.succeeded` events are POSTed to `kassa serve` (in-process worker off) by
   C sender tasks pulling from one queue, while 2 separate `kassa worker` processes apply
   them. The clock runs from the first POST until every payment has its ledger transfer
   (polled every 50 ms); events/s = N / elapsed. A non-200 answer is sent again, as Stripe
   would. Every top-up moves money from `stripe_clearing:usd` (a share of it: kassa splits
   system accounts) to the organization's wallet, as in production. `--servers`,
   `--workers` and `--organizations` (payments dealt out to that many wallets) vary this;
   pg_locks is sampled every 10 ms meanwhile and lock waits are printed per 1,000 events.
2. pgbench on the same PostgreSQL at the same concurrency (`-c C -j min(C, 2)`), running a
   transaction shaped like kassa's ledger write: `UPDATE` of a balance row picked among 1000,
   `INSERT` of a log row. The table prints kassa events/s / pgbench tps; goal >= 0.4.
3. Ack latency: signed events for fresh payments sent at a fixed 200 requests/s for
   `--seconds`, open loop (each request starts at its scheduled time whatever the earlier
   ones do; latency is measured from that scheduled time, so a backlog shows). Goal:
   p99 < 50 ms.

Then: CPU time per event of each process group (kassa server, workers, PostgreSQL, this
client, everything else on the machine), exactly-once checks on every batch (one transfer
per SUCCEEDED payment, wallet balance = their sum, every event PROCESSED), and a scan of the
server, worker, pgbench and PostgreSQL logs, which are written to /tmp/bench-logs/.

There is no Stripe here: kassa gets a fake `sk_test_` key and an API base of 127.0.0.1:9,
so a Stripe call fails at once, and a reconciliation run is recorded as just done so that
the workers do not try one. Applying these events makes no Stripe call.

The exit status is 0 when the run was complete (goals met or not), 1 when events were never
accepted or applied (or on SIGTERM), 2 when kassa, PostgreSQL or pgbench failed or the run
hit its overall time limit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TypeAlias
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import psutil
import stripe

from kassa.db import (
    apply_migrations,
    asyncpg_dsn,
    embedded_postgres,
    ensure_database,
    with_database,
)

LOG_DIR = Path("/tmp/bench-logs")
HOST = "127.0.0.1"
CONCURRENCIES = (4, 16)
WORKERS = 2
ACK_RATE = 200  # requests per second, open loop
ACK_CONNECTIONS = 64  # at most this many of its requests in flight (plenty to saturate)
RATIO_GOAL = 0.4
P99_GOAL_MS = 50.0
POLL_SECONDS = 0.05
AMOUNT = 1000  # minor units per payment
BALANCE_ROWS = 1000  # rows of the pgbench balance table
DELIVERY_ATTEMPTS = 5  # a refused event is sent again, like Stripe does, this many times
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
SETTLE_TIMEOUT = 30.0  # at the end, for events stored after their sender gave up
REQUEST_TIMEOUT = 30.0  # per webhook POST, all included; then it counts as "timeout"

PGBENCH_SCRIPT = f"""\
\\set aid random(1, {BALANCE_ROWS})
\\set delta random(1, 1000)
BEGIN;
UPDATE bench_balances SET balance = balance + :delta WHERE id = :aid;
INSERT INTO bench_log (balance_id, delta, created_at) VALUES (:aid, :delta, now());
END;
"""

# An HTTP status ("200"), "timeout" or an error's name; with the body or error text.
Answer: TypeAlias = "tuple[str, str]"
# asyncpg.Connection is generic only in its stubs.
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record]"


class BenchError(Exception):
    """kassa, PostgreSQL or pgbench failed, or time ran out; the message says where to look."""


@dataclass(frozen=True, slots=True)
class Sizes:
    events: int
    ack_seconds: float
    pgbench_seconds: int
    warmup_events: int
    drain_timeout: float
    servers: int = 1
    workers: int = WORKERS
    organizations: int = 1
    profile: bool = False

    @property
    def overall_timeout(self) -> float:
        """A hard bound on the whole run, far above what a healthy run needs."""
        phases = len(CONCURRENCIES) + 2  # warm-up, each concurrency, ack latency
        pgbench = len(CONCURRENCIES) * (self.pgbench_seconds + 60)
        return 300 + phases * self.drain_timeout + pgbench + 2 * self.ack_seconds


@dataclass(frozen=True, slots=True)
class Batch:
    """Payments made for one phase, all in one fresh organization."""

    label: str
    organization_ids: list[uuid.UUID]
    intent_prefix: str
    intent_ids: list[str]


@dataclass(slots=True)
class Deliveries:
    """What the webhook endpoint answered during one phase."""

    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    accepted: int = 0
    refused: int = 0  # events given up on after DELIVERY_ATTEMPTS
    finished: float = 0.0  # perf_counter() when the last answer came
    examples: dict[str, str] = field(default_factory=dict)  # first detail of each non-200

    def record(self, answer: Answer, latency: float) -> None:
        status, detail = answer
        self.statuses[status] += 1
        self.latencies.append(latency)
        if status != "200":
            self.examples.setdefault(status, detail)


@dataclass(frozen=True, slots=True)
class Drain:
    """How long until a batch's ledger transfers were all there, and what was not."""

    batch: Batch
    applied: int
    expected: int
    elapsed: float  # from the first POST to the poll that saw the last transfer (or timeout)
    event_statuses: dict[str, int]
    last_errors: list[str]

    @property
    def complete(self) -> bool:
        return self.applied >= self.expected


@dataclass(frozen=True, slots=True)
class CpuUse:
    """CPU seconds each group of processes used during a phase, and how busy the machine was."""

    seconds: dict[str, float]
    busy: float  # fraction of all CPUs, 0..1
    other: float  # CPU seconds of every other process on the machine (other work, the kernel)


@dataclass(frozen=True, slots=True)
class ThroughputResult:
    concurrency: int
    deliveries: Deliveries
    ingest_elapsed: float
    drain: Drain
    cpu: CpuUse
    lock_waits: LockWaits
    pgbench_tps: float | None = None

    @property
    def events_per_second(self) -> float:
        return self.drain.applied / self.drain.elapsed if self.drain.elapsed > 0 else 0.0


@dataclass(frozen=True, slots=True)
class AckResult:
    rate: int
    seconds: float
    deliveries: Deliveries
    max_start_lag: float
    acked_per_second: float  # 200s / time from the first scheduled start to the last answer
    drain: Drain
    cpu: CpuUse


@dataclass(slots=True)
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path


@dataclass(frozen=True, slots=True)
class Kassa:
    base_urls: list[str]
    children: list[Child]
    dsn: str

    @property
    def base_url(self) -> str:
        return self.base_urls[0]


CPU_GROUPS = ("server", "workers", "postgres", "client")
# CPU seconds by (group, pid); busy and total CPU seconds of the whole machine.
CpuSnapshot: TypeAlias = "tuple[dict[tuple[str, int], float], float, float]"


class CpuMeter:
    """Per-process CPU time of kassa's processes, PostgreSQL's and this script's own."""

    def __init__(self, kassa: Kassa, postmaster_pid: Path) -> None:
        self.kassa = kassa
        self.postmaster_pid = postmaster_pid

    def _processes(self) -> list[tuple[str, psutil.Process]]:
        found = [("client", psutil.Process())]
        for child in self.kassa.children:
            group = "server" if child.name.startswith("server") else "workers"
            found.append((group, psutil.Process(child.process.pid)))
        postmaster = psutil.Process(int(self.postmaster_pid.read_text().split()[0]))
        found += [("postgres", process) for process in [postmaster, *postmaster.children()]]
        return found

    def snapshot(self) -> CpuSnapshot:
        times: dict[tuple[str, int], float] = {}
        for group, process in self._processes():
            with contextlib.suppress(psutil.Error):
                used = process.cpu_times()
                times[group, process.pid] = used.user + used.system
        machine = psutil.cpu_times()
        # guest time is also counted in user time on Linux
        total = sum(v for k, v in machine._asdict().items() if k not in ("guest", "guest_nice"))
        idle = machine.idle + getattr(machine, "iowait", 0.0)
        return times, total - idle, total

    def since(self, start: CpuSnapshot) -> CpuUse:
        """Use since `start`; processes that ended in between are not counted."""
        (before, busy_before, total_before), (after, busy_after, total_after) = (
            start,
            self.snapshot(),
        )
        seconds = dict.fromkeys(CPU_GROUPS, 0.0)
        for key, used in after.items():
            seconds[key[0]] += used - before.get(key, 0.0)
        total, busy = total_after - total_before, busy_after - busy_before
        other = max(0.0, busy - sum(seconds.values()))
        return CpuUse(seconds, busy / total if total > 0 else 0.0, other)


# -- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def start_child(name: str, args: Sequence[str], env: dict[str, str], cwd: Path) -> Child:
    log_path = LOG_DIR / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            # Its own session: a Ctrl+C reaches only this script, which stops it in order.
            start_new_session=True,
        )
    return Child(name, process, log_path)


def stop_children(children: Sequence[Child]) -> None:
    """SIGTERM all, wait up to STOP_TIMEOUT, then SIGKILL whatever is left."""
    for child in children:
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in children:
        try:
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"  {child.name} ignored SIGTERM for {STOP_TIMEOUT:.0f} s; killing it")
            child.process.kill()
            child.process.wait(timeout=STOP_TIMEOUT)


def kassa_env(database_url: str, port: int, webhook_secret: str, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "KASSA_HOST": HOST,
        "KASSA_PORT": str(port),
        "KASSA_WORKER_IN_PROCESS": "false",
        "KASSA_ENV": "development",
        "KASSA_DATA_DIR": str(data_dir),
        # Processing `payment_intent.succeeded` without a payment method calls no Stripe API;
        # should kassa call it anyway, the call fails at once here instead of leaving 127.0.0.1.
        "STRIPE_SECRET_KEY": "sk_test_bench_" + secrets.token_hex(12),
        "STRIPE_API_BASE": "http://127.0.0.1:9",
        "STRIPE_WEBHOOK_SECRET": webhook_secret,
        "KASSA_JWT_SECRET": secrets.token_urlsafe(48),
        "PYTHONUNBUFFERED": "1",
    }


def kassa_command(name: str, profile: bool) -> list[str]:
    """`python -m kassa.cli`, under cProfile (stats to LOG_DIR/<name>.prof) when profiling."""
    if not profile:
        return [sys.executable, "-m", "kassa.cli"]
    return [
        sys.executable,
        "-m",
        "cProfile",
        "-o",
        str(LOG_DIR / f"{name}.prof"),
        "-m",
        "kassa.cli",
    ]


@contextlib.asynccontextmanager
async def running_kassa(
    database_url: str, webhook_secret: str, work_dir: Path, sizes: Sizes
) -> AsyncIterator[Kassa]:
    """`sizes.servers` `kassa serve` and `sizes.workers` `kassa worker` processes, stopped
    on the way out."""
    children: list[Child] = []
    base_urls: list[str] = []
    try:
        for number in range(1, sizes.servers + 1):
            port = free_port()
            env = kassa_env(database_url, port, webhook_secret, work_dir / "kassa-data")
            name = "server" if number == 1 else f"server-{number}"
            command = [*kassa_command(name, sizes.profile), "serve"]
            children.append(start_child(name, command, env, work_dir))
            base_urls.append(f"http://{HOST}:{port}")
        for number in range(1, sizes.workers + 1):
            name = f"worker-{number}"
            command = [*kassa_command(name, sizes.profile), "worker"]
            children.append(start_child(name, command, env, work_dir))
        for base_url in base_urls:
            await wait_until_ready(base_url, children)
        yield Kassa(base_urls, children, asyncpg_dsn(database_url))
    finally:
        stop_children(children)


async def wait_until_ready(base_url: str, children: Sequence[Child]) -> None:
    """Until GET /healthz answers 200 and every worker has said it is running."""
    deadline = time.monotonic() + READY_TIMEOUT
    workers = [child for child in children if child.name.startswith("worker")]
    async with httpx.AsyncClient(base_url=base_url, timeout=2.0) as client:
        while True:
            for child in children:
                if child.process.poll() is not None:
                    raise BenchError(
                        f"{child.name} exited with status {child.process.returncode}; "
                        f"see {child.log_path}"
                    )
            with contextlib.suppress(httpx.HTTPError):
                healthy = (await client.get("/healthz")).status_code == 200
                running = all(
                    b"kassa worker: running" in child.log_path.read_bytes() for child in workers
                )
                if healthy and running:
                    return
            if time.monotonic() > deadline:
                raise BenchError(f"kassa was not ready within {READY_TIMEOUT:.0f} s; see {LOG_DIR}")
            await asyncio.sleep(0.2)


# -- kassa's data ----------------------------------------------------------------------------


async def create_payments(
    conn: Connection, label: str, count: int, organizations: int = 1
) -> Batch:
    """`organizations` new organizations with `count` wallet top-ups awaiting their payment,
    dealt out in turn."""
    organization_ids = [uuid.uuid4() for _ in range(organizations)]
    tag = organization_ids[0].hex[:8]
    for number, organization_id in enumerate(organization_ids):
        await conn.execute(
            "INSERT INTO organizations (id, external_id, name, created_at) "
            "VALUES ($1, $2, $3, now())",
            organization_id,
            f"bench-{label}-{tag}-{number}",
            f"bench {label}",
        )
    now = datetime.now(UTC)
    prefix = f"pi_bench_{label}_{tag}_"
    intent_ids = [f"{prefix}{number}" for number in range(count)]
    records = [
        (
            uuid.uuid4(),
            organization_ids[number % organizations],
            "WALLET_TOP_UP",
            "REQUIRES_PAYMENT_METHOD",
            AMOUNT,
            "usd",
            0,
            intent_id,
            now,
            now,
        )
        for number, intent_id in enumerate(intent_ids)
    ]
    await conn.copy_records_to_table(
        "payments",
        records=records,
        columns=[
            "id",
            "organization_id",
            "purpose",
            "status",
            "amount",
            "currency",
            "amount_refunded",
            "stripe_payment_intent_id",
            "created_at",
            "updated_at",
        ],
    )
    return Batch(label, organization_ids, prefix, intent_ids)


def succeeded_event(intent_id: str, amount: int) -> str:
    """A minimal Stripe `payment_intent.succeeded` event, as kassa's handler reads it."""
    event = {
        "id": f"evt_bench_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": int(time.time()),
        "livemode": False,
        "api_version": "2024-06-20",
        "data": {
            "object": {
                "id": intent_id,
                "object": "payment_intent",
                "amount": amount,
                "amount_received": amount,
                "currency": "usd",
                "status": "succeeded",
                "latest_charge": None,
                "payment_method": None,
                "last_payment_error": None,
                "metadata": {},
            }
        },
    }
    return json.dumps(event)


def ignored_event() -> str:
    """An event of a type kassa stores and then ignores (no payment is touched)."""
    event = {
        "id": f"evt_bench_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": "customer.created",
        "created": int(time.time()),
        "livemode": False,
        "api_version": "2024-06-20",
        "data": {"object": {"id": f"cus_bench_{uuid.uuid4().hex[:14]}", "object": "customer"}},
    }
    return json.dumps(event)


def wallet_keys(batch: Batch) -> list[str]:
    # kassa.services.ledger.wallet_account
    return [f"wallet:usd@{organization_id}" for organization_id in batch.organization_ids]


async def applied_transfers(conn: Connection, batch: Batch) -> int:
    """Top-up transfers into the batch's wallet: one per applied payment.

    Found through the wallet's index on `credit_account_id`: this runs every POLL_SECONDS,
    and a join through `payments` costs PostgreSQL far more CPU than the events themselves.
    """
    count = await conn.fetchval(
        "SELECT count(*) FROM ledger_transfers WHERE credit_account_id = ANY("
        "ARRAY(SELECT id FROM ledger_accounts WHERE key = ANY($1::text[]))) "
        "AND idempotency_key LIKE 'payment:%:top_up'",
        wallet_keys(batch),
    )
    return int(count)


async def wait_applied(
    conn: Connection, batch: Batch, expected: int, started: float, give_up_after: float
) -> Drain:
    """Poll every POLL_SECONDS until `expected` transfers of `batch` exist, or for at most
    `give_up_after` seconds from `started`."""
    while True:
        applied = await applied_transfers(conn, batch)
        elapsed = time.perf_counter() - started
        if applied >= expected or elapsed > give_up_after:
            break
        await asyncio.sleep(POLL_SECONDS)
    return await describe_drain(conn, batch, applied, expected, elapsed)


async def describe_drain(
    conn: Connection, batch: Batch, applied: int, expected: int, elapsed: float
) -> Drain:
    statuses, errors = await event_statuses(conn, batch)
    return Drain(batch, applied, expected, elapsed, statuses, errors)


async def event_statuses(conn: Connection, batch: Batch) -> tuple[dict[str, int], list[str]]:
    """The batch's stored events by status, and a few of their last errors."""
    pattern = batch.intent_prefix + "%"
    rows = await conn.fetch(
        "SELECT status, count(*) AS n FROM stripe_events WHERE object_id LIKE $1 GROUP BY status",
        pattern,
    )
    errors = await conn.fetch(
        "SELECT DISTINCT last_error FROM stripe_events "
        "WHERE object_id LIKE $1 AND last_error IS NOT NULL LIMIT 3",
        pattern,
    )
    return {str(row["status"]): int(row["n"]) for row in rows}, [
        str(row["last_error"]) for row in errors
    ]


async def settle(conn: Connection, limit_seconds: float) -> int:
    """Wait (at most `limit_seconds`) until no stored event awaits processing; how many do."""
    deadline = time.monotonic() + limit_seconds
    while True:
        waiting = int(
            await conn.fetchval(
                "SELECT count(*) FROM stripe_events WHERE status IN ('PENDING', 'FAILED')"
            )
        )
        if waiting == 0 or time.monotonic() > deadline:
            return waiting
        await asyncio.sleep(0.2)


async def verify(conn: Connection, name: str, batch: Batch) -> list[str]:
    """Exactly-once checks on a settled batch: one transfer per SUCCEEDED payment, the
    wallet balance their sum, every event PROCESSED. Counts come from one snapshot."""
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM ledger_transfers WHERE credit_account_id = ANY("
        "  ARRAY(SELECT id FROM ledger_accounts WHERE key = ANY($1::text[]))) "
        "  AND idempotency_key LIKE 'payment:%:top_up') AS transfers, "
        "(SELECT count(*) FROM payments WHERE organization_id = ANY($2::uuid[]) "
        "  AND status = 'SUCCEEDED') AS succeeded, "
        "(SELECT sum(balance) FROM ledger_accounts WHERE key = ANY($1::text[])) AS balance",
        wallet_keys(batch),
        batch.organization_ids,
    )
    assert row is not None
    transfers, succeeded, balance = int(row["transfers"]), int(row["succeeded"]), row["balance"]
    problems: list[str] = []
    if succeeded != transfers:
        problems.append(f"{name}: {succeeded} payments SUCCEEDED but {transfers} transfers")
    if int(balance or 0) != transfers * AMOUNT:
        problems.append(f"{name}: wallet balance {balance}, expected {transfers * AMOUNT}")
    statuses, errors = await event_statuses(conn, batch)
    if set(statuses) - {"PROCESSED"}:
        problems.append(f"{name}: events by status {statuses}; errors {errors}")
    return problems


# -- webhook clients -------------------------------------------------------------------------


async def deliver(client: WebhookClient, payload: str, secret: str) -> Answer:
    """POST one signed event; what came back (see `Answer`)."""
    signature: str = stripe.WebhookSignature.generate_signature_header(payload, secret)
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):
            status, body = await client.post(payload.encode(), signature)
    except TimeoutError:
        return "timeout", f"no answer within {REQUEST_TIMEOUT:.0f} s"
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        return type(exc).__name__, repr(exc)[:200]
    return str(status), body[:200].decode(errors="replace")


class WebhookClient:
    """POSTs to one kassa server over at most `connections` kept-alive HTTP/1.1 connections.

    A load generator much lighter than httpx (which cost more CPU per request than kassa's
    whole server): on a machine whose few CPUs kassa, PostgreSQL and this script share, the
    CPU should go to what is measured.
    """

    def __init__(self, base_url: str, connections: int) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or HOST, parts.port or 80
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.slots = asyncio.Semaphore(connections)
        self.head = (
            f"POST /webhooks/stripe HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Content-Type: application/json\r\n"
        ).encode()

    async def post(self, body: bytes, signature: str) -> tuple[int, bytes]:
        fields = f"Stripe-Signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n"
        request = self.head + fields.encode() + body
        async with self.slots:
            while self.idle:
                # A kept-alive connection the server closed meanwhile (its keep-alive timeout)
                # fails before any answer: send again on the next one, as HTTP clients do.
                with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
                    return await self._exchange(*self.idle.pop(), request)
            return await self._exchange(*await self._connect(), request)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
    ) -> tuple[int, bytes]:
        try:
            writer.write(request)
            await writer.drain()
            status, answer, keep = await self._answer(reader)
        except BaseException:
            writer.close()
            raise
        if keep:
            self.idle.append((reader, writer))
        else:
            writer.close()
        return status, answer

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.host, self.port)

    @staticmethod
    async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        lines = head.split("\r\n")
        status = int(lines[0].split()[1])
        fields = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
        length = int(fields.get("content-length", "0"))
        body = await reader.readexactly(length)
        return status, body, fields.get("connection", "").strip() != "close"

    async def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


async def send_closed_loop(
    clients: Sequence[WebhookClient],
    payloads: Sequence[str],
    secret: str,
    concurrency: int,
    deliveries: Deliveries,
) -> None:
    """`concurrency` senders pulling events from one queue; refusals are sent again."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for payload in payloads:
        queue.put_nowait(payload)

    async def sender(client: WebhookClient) -> None:
        while True:
            try:
                payload = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            for attempt in range(1, DELIVERY_ATTEMPTS + 1):
                started = time.perf_counter()
                answer = await deliver(client, payload, secret)
                deliveries.record(answer, time.perf_counter() - started)
                if answer[0] == "200":
                    deliveries.accepted += 1
                    break
                if attempt == DELIVERY_ATTEMPTS:
                    deliveries.refused += 1
                else:
                    await asyncio.sleep(0.1 * attempt)

    await asyncio.gather(*(sender(clients[n % len(clients)]) for n in range(concurrency)))
    deliveries.finished = time.perf_counter()


@contextlib.asynccontextmanager
async def http_clients(kassa: Kassa, connections: int) -> AsyncIterator[list[WebhookClient]]:
    """One client per `kassa serve` process (a load balancer's round robin, in effect)."""
    clients = [WebhookClient(url, connections) for url in kassa.base_urls]
    try:
        yield clients
    finally:
        for client in clients:
            await client.close()


@dataclass(slots=True)
class LockWaits:
    """Sampled every LOCK_SAMPLE_SECONDS: backends of kassa's database waiting for a lock."""

    samples: int = 0
    waiting: int = 0  # sum over samples of the backends then waiting
    by_relation: Counter[str] = field(default_factory=Counter)

    @property
    def waited_seconds(self) -> float:
        """Estimated backend-seconds spent waiting for locks."""
        return self.waiting * LOCK_SAMPLE_SECONDS


LOCK_SAMPLE_SECONDS = 0.01
LOCK_SAMPLE = (
    "SELECT coalesce(l.relation::regclass::text, l.locktype) AS what, count(*) AS n "
    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE NOT l.granted AND a.datname = current_database() GROUP BY 1"
)


async def sample_lock_waits(dsn: str, waits: LockWaits) -> None:
    """Until cancelled, count the lock waits of kassa's database (its own connection)."""
    conn: Connection = await asyncpg.connect(dsn)
    try:
        while True:
            rows = await conn.fetch(LOCK_SAMPLE)
            waits.samples += 1
            for row in rows:
                waits.waiting += int(row["n"])
                waits.by_relation[str(row["what"])] += int(row["n"])
            await asyncio.sleep(LOCK_SAMPLE_SECONDS)
    finally:
        await conn.close()


async def throughput(
    conn: Connection,
    kassa: Kassa,
    meter: CpuMeter,
    secret: str,
    concurrency: int,
    events: int,
    label: str,
    sizes: Sizes,
) -> ThroughputResult:
    batch = await create_payments(conn, label, events, sizes.organizations)
    payloads = [succeeded_event(intent_id, AMOUNT) for intent_id in batch.intent_ids]
    deliveries = Deliveries()
    waits = LockWaits()
    async with http_clients(kassa, concurrency) as clients:
        sampling = asyncio.create_task(sample_lock_waits(kassa.dsn, waits))
        cpu_start = meter.snapshot()
        started = time.perf_counter()
        sending = asyncio.create_task(
            send_closed_loop(clients, payloads, secret, concurrency, deliveries)
        )
        try:
            # Every payment is expected: refused events are sent again (see DELIVERY_ATTEMPTS).
            drain = await wait_applied(conn, batch, events, started, sizes.drain_timeout)
            cpu = meter.since(cpu_start)
            if drain.complete:  # the last answers may still be on their way
                await asyncio.wait({sending}, timeout=REQUEST_TIMEOUT)
            if sending.done() and not sending.cancelled() and sending.exception():
                raise RuntimeError("a sender failed") from sending.exception()
        finally:
            sampling.cancel()
            await asyncio.gather(sampling, return_exceptions=True)
            if not sending.done():
                sending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sending
    ingest_elapsed = (deliveries.finished or time.perf_counter()) - started
    return ThroughputResult(concurrency, deliveries, ingest_elapsed, drain, cpu, waits)


async def ack_latency(
    conn: Connection,
    kassa: Kassa,
    meter: CpuMeter,
    secret: str,
    rate: int,
    seconds: float,
    sizes: Sizes,
) -> AckResult:
    """Open loop: request i starts at t0 + i / rate; latency counts from that moment."""
    total = max(1, round(rate * seconds))
    batch = await create_payments(conn, "ack", total, sizes.organizations)
    payloads = [succeeded_event(intent_id, AMOUNT) for intent_id in batch.intent_ids]
    deliveries = Deliveries()
    start_lags: list[float] = []
    # Requests beyond ACK_CONNECTIONS in flight wait here, timed (the wait is part of the
    # latency), for a connection to come free.
    connections = asyncio.Semaphore(ACK_CONNECTIONS)

    async def one(payload: str, scheduled: float, client: WebhookClient) -> None:
        start_lags.append(time.perf_counter() - scheduled)
        async with connections:
            answer = await deliver(client, payload, secret)
        deliveries.finished = time.perf_counter()
        deliveries.record(answer, deliveries.finished - scheduled)
        if answer[0] == "200":
            deliveries.accepted += 1
        else:
            deliveries.refused += 1

    async with http_clients(kassa, ACK_CONNECTIONS) as clients:
        # One request first, so the measured ones do not pay for the first connection.
        for client in clients:
            await deliver(client, ignored_event(), secret)
        tasks: dict[asyncio.Task[None], float] = {}  # each with its scheduled start
        cpu_start = meter.snapshot()
        first = time.perf_counter() + 0.05
        started = first
        try:
            for number, payload in enumerate(payloads):
                scheduled = first + number / rate
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                client = clients[number % len(clients)]
                tasks[asyncio.create_task(one(payload, scheduled, client))] = scheduled
            # A backlog drains at kassa's pace: wait for it, within reason.
            _, late = await asyncio.wait(tasks, timeout=REQUEST_TIMEOUT + 2 * seconds)
            now = time.perf_counter()
            for task in late:  # counted with the time they had waited: a lower bound
                deliveries.record(("unanswered", "given up by the benchmark"), now - tasks[task])
                deliveries.refused += 1
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    drain = await wait_applied(conn, batch, deliveries.accepted, started, sizes.drain_timeout)
    cpu = meter.since(cpu_start)
    answered = max(deliveries.finished - first, 1e-9)
    lag = max(start_lags, default=0.0)
    return AckResult(rate, seconds, deliveries, lag, deliveries.accepted / answered, drain, cpu)


# -- pgbench ---------------------------------------------------------------------------------


def pgbench_path() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH) / "pgbench"


async def prepare_pgbench(server_url: str, work_dir: Path) -> Path:
    """The `bench` database with its balance and log tables; the script file."""
    bench_url = with_database(server_url, "bench")
    await ensure_database(bench_url)
    conn: Connection = await asyncpg.connect(asyncpg_dsn(bench_url))
    try:
        await conn.execute(
            "CREATE TABLE bench_balances (id int PRIMARY KEY, balance bigint NOT NULL DEFAULT 0);"
            "CREATE TABLE bench_log (id bigserial PRIMARY KEY, balance_id int NOT NULL,"
            " delta bigint NOT NULL, created_at timestamptz NOT NULL);"
            f"INSERT INTO bench_balances (id) SELECT generate_series(1, {BALANCE_ROWS});"
        )
        await conn.execute("VACUUM ANALYZE bench_balances")
    finally:
        await conn.close()
    script_dir = work_dir / "pgbench"
    script_dir.mkdir()
    script_dir.chmod(0o755)  # readable by the embedded_postgres user, should pgbench run as it
    script = script_dir / "ledger_write.sql"
    script.write_text(PGBENCH_SCRIPT)
    script.chmod(0o644)
    return script


async def run_pgbench(socket_dir: str, script: Path, concurrency: int, seconds: int) -> float:
    """pgbench's tps (without initial connection time); its output goes to LOG_DIR."""
    command = [
        str(pgbench_path()),
        "-n",  # no vacuum of pgbench's own tables: the script uses its own
        "-c",
        str(concurrency),
        "-j",
        str(min(concurrency, 2)),
        "-T",
        str(seconds),
        "-f",
        str(script),
        "-h",
        socket_dir,
        "-U",
        "postgres",
        "bench",
    ]
    attempts = [command]
    if os.geteuid() == 0 and shutil.which("runuser"):
        # As root the server runs as `embedded_postgres`; pgbench normally connects fine as
        # root over the trusted socket, this is the fallback if the socket is not reachable.
        attempts.append(["runuser", "-u", "embedded_postgres", "--", *command])
    log_path = LOG_DIR / f"pgbench-c{concurrency}.log"
    outputs: list[str] = []
    for attempt in attempts:
        output, returncode = await run_bounded(attempt, limit_seconds=seconds + 60)
        outputs.append(f"$ {' '.join(attempt)}\n{output}\n(exit status {returncode})\n")
        log_path.write_text("\n".join(outputs))
        match = re.search(r"^tps = ([0-9.]+)", output, re.MULTILINE)
        if returncode == 0 and match:
            return float(match.group(1))
    raise BenchError(f"pgbench failed; see {log_path}")


async def run_bounded(command: Sequence[str], limit_seconds: float) -> tuple[str, int]:
    """Run `command`, killing it after `limit_seconds`; its output and exit status."""
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        stdout, _ = await asyncio.wait_for(process.communicate(), timeout=limit_seconds)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return stdout.decode(errors="replace"), process.returncode or 0


# -- report ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (0 < fraction <= 1) of `values`."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5 - 1e-9)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def statuses_text(statuses: Counter[str]) -> str:
    return ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))


def print_throughput(results: Sequence[ThroughputResult], workers: int) -> None:
    print()
    print(
        f"Throughput: HTTP ingest -> applied ledger transfer, {workers} workers "
        f"({results[0].drain.expected} events per row)"
    )
    header = (
        f"{'senders':>7}  {'kassa events/s':>14}  {'pgbench tps':>11}  {'ratio':>6}  "
        f"{'goal >= ' + str(RATIO_GOAL):>11}  {'ingest acks/s':>13}  {'ack p50':>9}  {'ack p99':>9}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        tps = result.pgbench_tps or 0.0
        ratio = result.events_per_second / tps if tps else float("nan")
        verdict = met(ratio >= RATIO_GOAL) if result.drain.complete else "incomplete"
        accepted = result.deliveries.accepted
        ingest = accepted / result.ingest_elapsed if result.ingest_elapsed else 0.0
        latencies = result.deliveries.latencies
        print(
            f"{result.concurrency:>7}  {result.events_per_second:>14.1f}  {tps:>11.1f}  "
            f"{ratio:>6.2f}  {verdict:>11}  {ingest:>13.1f}  "
            f"{ms(percentile(latencies, 0.5)):>9}  {ms(percentile(latencies, 0.99)):>9}"
        )
    print(
        "(ingest acks/s: accepted events / wall time the senders spent posting; ack p50/p99: "
        "closed-loop POST latency under this load)"
    )
    print_lock_waits(results)


def print_lock_waits(results: Sequence[ThroughputResult]) -> None:
    print()
    print(
        f"Lock waits (pg_locks sampled every {LOCK_SAMPLE_SECONDS * 1000:g} ms while the "
        "events drained), per 1,000 applied events"
    )
    for result in results:
        waits = result.lock_waits
        per = 1000 / max(result.drain.applied, 1)
        top = ", ".join(f"{what} {n}" for what, n in waits.by_relation.most_common(3)) or "-"
        print(
            f"  {result.concurrency:>3} senders: {waits.waiting * per:8.1f} waiting backends "
            f"seen in {waits.samples} samples; ~{waits.waited_seconds * per * 1000:.0f} ms "
            f"waited; most on: {top}"
        )


def print_ack(result: AckResult) -> None:
    latencies = result.deliveries.latencies
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    unanswered = result.deliveries.statuses["unanswered"]
    print()
    print(
        f"Ack latency: {len(latencies)} signed events at a fixed {result.rate} req/s for "
        f"{result.seconds:g} s (open loop, measured from each request's scheduled start)"
    )
    print(
        f"  p50 {ms(p50)}   p99 {ms(p99)}   max {ms(max(latencies, default=0.0))}   "
        f"goal p99 < {P99_GOAL_MS:g} ms: {met(p99 * 1000 < P99_GOAL_MS)}"
        + (f" (lower bounds: {unanswered} requests never answered)" if unanswered else "")
    )
    print(
        f"  kassa acknowledged {result.acked_per_second:.1f} events/s on average; "
        f"answers: {statuses_text(result.deliveries.statuses)}"
    )
    print(f"  client: latest request start {ms(result.max_start_lag)} after its schedule")
    drain = result.drain
    print(
        f"  these events were all applied {drain.elapsed:.1f} s after the first was sent"
        if drain.complete
        else f"  only {drain.applied}/{drain.expected} applied after {drain.elapsed:.0f} s"
    )


def print_cpu(results: Sequence[ThroughputResult], ack: AckResult) -> None:
    print()
    print(f"CPU time per applied event, ms (everything shares the {os.cpu_count()} CPUs)")
    columns = [*CPU_GROUPS, "other"]
    header = f"{'phase':<12}" + "".join(f"{group:>10}" for group in columns) + "  machine busy"
    print(header)
    print("-" * len(header))
    rows = [(f"{result.concurrency} senders", result.cpu, result.drain) for result in results]
    rows.append((f"ack {ack.rate}/s", ack.cpu, ack.drain))
    for name, cpu, drain in rows:
        seconds = [*(cpu.seconds[group] for group in CPU_GROUPS), cpu.other]
        per_event = [value * 1000 / max(drain.applied, 1) for value in seconds]
        print(
            f"{name:<12}"
            + "".join(f"{value:>10.2f}" for value in per_event)
            + f"  {cpu.busy:>12.0%}"
        )
    print(
        "(client: this script: senders and the 50 ms database poll; other: every other process "
        "and the kernel, high when something else runs on the machine)"
    )


def check_phase(
    name: str, deliveries: Deliveries, drain: Drain, problems: list[str], notes: list[str]
) -> None:
    """Add what looked wrong in one phase: to `problems` if events were lost or stuck, to
    `notes` if a delivery failed but its event was accepted when sent again."""
    other = {status: n for status, n in deliveries.statuses.items() if status != "200"}
    if other:
        (problems if deliveries.refused else notes).append(
            f"{name}: non-200 answers {other}, {deliveries.refused} events never accepted; "
            f"first of each: {deliveries.examples}"
        )
    if not drain.complete:
        problems.append(
            f"{name}: {drain.applied}/{drain.expected} transfers after {drain.elapsed:.0f} s; "
            f"events by status {drain.event_statuses}; errors {drain.last_errors}"
        )


LOG_PATTERNS = {
    "error lines": re.compile(r"\bERROR\b|\bCRITICAL\b|^Traceback|\bFATAL\b|\bPANIC\b"),
    "warnings": re.compile(r"\bWARNING\b"),
    "HTTP 5xx": re.compile(r'HTTP/1\.[01]" 5\d\d'),
    "HTTP 4xx": re.compile(r'HTTP/1\.[01]" 4\d\d'),
}
# The last line of a Python traceback, e.g. "starlette.requests.ClientDisconnect".
EXCEPTION_LINE = re.compile(
    r"^(?:[A-Za-z_][\w]*\.)*(\w*(?:Error|Exception|Disconnect|Timeout|Failure|Exit))\b"
)
# Logged by every first `apply_migrations` on an empty database: expected, not a finding.
LOG_NOISE = re.compile(r'relation "tortoise_migrations" does not exist')
# Known lines, counted with what they mean rather than as errors.
EXPLAINED = {
    'violates unique constraint "pgqueuer_unique_dedupe_key"': (
        "enqueues refused by pgqueuer's dedupe key (a job for that event was already queued, "
        "e.g. by the worker sweep re-queueing PENDING events older than its interval); "
        "kassa treats them as done"
    ),
}


def scan_logs() -> list[str]:
    """What the logs hold besides normal operation: known lines explained, others counted."""
    findings: list[str] = []
    for path in sorted(LOG_DIR.glob("*.log")):
        text = path.read_text(errors="replace")
        explained: Counter[str] = Counter()
        rest: list[str] = []
        for line in text.splitlines():
            if LOG_NOISE.search(line):
                continue
            meaning = next((why for needle, why in EXPLAINED.items() if needle in line), None)
            if meaning is None:
                rest.append(line)
            else:
                explained[meaning] += 1
        for meaning, count in explained.items():
            findings.append(f"{path.name}: {count} {meaning}")
        for kind, pattern in LOG_PATTERNS.items():
            hits = [line for line in rest if pattern.search(line)]
            if hits:
                findings.append(f"{path.name}: {len(hits)} {kind}, first: {hits[0].strip()[:160]}")
        exceptions = Counter(
            match.group(1) for line in rest if (match := EXCEPTION_LINE.match(line))
        )
        if exceptions:
            findings.append(f"{path.name}: exceptions {dict(exceptions)}")
    return findings


async def skip_reconciliation(conn: Connection) -> None:
    """Workers reconcile with Stripe when no run is recent; there is no Stripe here, so
    record one as just done (if this kassa has no such table, the attempt shows in the logs)."""
    with contextlib.suppress(asyncpg.PostgresError):
        await conn.execute(
            "INSERT INTO reconciliation_runs (since, started_at, finished_at, checked, fixed, "
            "report) VALUES (now(), now(), now(), 0, 0, '[]')"
        )


async def leftovers(conn: Connection) -> tuple[list[str], list[str]]:
    """Unhandled events and jobs at the end (problems), and jobs left for handled events."""
    rows = await conn.fetch(
        "SELECT status, count(*) AS n FROM stripe_events "
        "WHERE status NOT IN ('PROCESSED', 'IGNORED') GROUP BY status"
    )
    problems = [f"stripe_events left {row['status']}: {row['n']}" for row in rows]
    notes: list[str] = []
    with contextlib.suppress(asyncpg.PostgresError):  # pgqueuer's own table
        jobs = await conn.fetch(
            "SELECT q.entrypoint, q.status::text AS job, e.status AS event, count(*) AS n "
            "FROM pgqueuer q LEFT JOIN stripe_events e "
            "ON q.entrypoint = 'stripe_event' AND e.id = convert_from(q.payload, 'UTF8') "
            "GROUP BY 1, 2, 3"
        )
        for row in jobs:
            line = (
                f"{row['n']} {row['entrypoint']} job(s) still {row['job']} in pgqueuer "
                f"(event {row['event'] or '-'})"
            )
            handled = row["event"] in ("PROCESSED", "IGNORED")
            (notes if handled else problems).append(line)
    return problems, notes


# -- the run ---------------------------------------------------------------------------------


async def bench(server_url: str, sizes: Sizes, work_dir: Path) -> int:
    """Everything after PostgreSQL is up; the exit status."""
    kassa_url = server_url  # embedded_postgres() already names kassa's database
    socket_dir = parse_qs(urlsplit(kassa_url).query)["host"][0]
    await ensure_database(kassa_url)
    await apply_migrations(kassa_url)
    script = await prepare_pgbench(kassa_url, work_dir)
    webhook_secret = "whsec_" + secrets.token_hex(24)
    if sizes.profile:
        await enable_statement_stats(kassa_url, work_dir)
    conn: Connection = await asyncpg.connect(asyncpg_dsn(kassa_url))
    try:
        version = await conn.fetchval("SHOW server_version")
        await skip_reconciliation(conn)
        print(
            f"kassa webhook benchmark: PostgreSQL {version} (embedded), {os.cpu_count()} CPUs, "
            f"{sizes.events} events per concurrency, {sizes.servers} server(s), "
            f"{sizes.workers} workers, {sizes.organizations} organization(s) per phase; "
            f"logs in {LOG_DIR}/"
        )
        async with running_kassa(kassa_url, webhook_secret, work_dir, sizes) as kassa:
            meter = CpuMeter(kassa, pgdata(work_dir) / "postmaster.pid")
            print(f"kassa serve on {kassa.base_url}; warming up with {sizes.warmup_events} events")
            warmup = await throughput(
                conn, kassa, meter, webhook_secret, 4, sizes.warmup_events, "warmup", sizes
            )
            problems: list[str] = []
            notes: list[str] = []
            check_phase("warm-up", warmup.deliveries, warmup.drain, problems, notes)
            if sizes.profile:
                await reset_statement_stats(conn)
            results: list[ThroughputResult] = []
            for concurrency in CONCURRENCIES:
                print(f"  {concurrency} senders: kassa ...", end="", flush=True)
                result = await throughput(
                    conn,
                    kassa,
                    meter,
                    webhook_secret,
                    concurrency,
                    sizes.events,
                    f"c{concurrency}",
                    sizes,
                )
                print(f" {result.events_per_second:.1f} events/s; pgbench ...", end="", flush=True)
                tps = await run_pgbench(socket_dir, script, concurrency, sizes.pgbench_seconds)
                print(f" {tps:.1f} tps", flush=True)
                results.append(replace(result, pgbench_tps=tps))
                name = f"{concurrency} senders"
                check_phase(name, result.deliveries, result.drain, problems, notes)
            print(f"  ack latency at {ACK_RATE} req/s for {sizes.ack_seconds:g} s ...", flush=True)
            ack = await ack_latency(
                conn, kassa, meter, webhook_secret, ACK_RATE, sizes.ack_seconds, sizes
            )
            check_phase("ack latency", ack.deliveries, ack.drain, problems, notes)
            waiting = await settle(conn, SETTLE_TIMEOUT)
            if waiting:
                problems.append(f"{waiting} events still waiting {SETTLE_TIMEOUT:.0f} s later")
            phases = [("warm-up", warmup.drain.batch), ("ack latency", ack.drain.batch)]
            phases += [(f"{result.concurrency} senders", result.drain.batch) for result in results]
            for name, batch in phases:
                problems += await verify(conn, name, batch)
            left, idle_jobs = await leftovers(conn)
            problems += left
            notes += idle_jobs
            applied = sum(result.drain.applied for result in results) + ack.drain.applied
            if sizes.profile:
                await print_statement_profile(conn, applied)
    finally:
        await conn.close()
    copy_postgres_log(work_dir)
    if sizes.profile:
        print_function_profile(applied + warmup.drain.applied)
    print_throughput(results, sizes.workers)
    print_ack(ack)
    print_cpu(results, ack)
    print()
    print("Checks:")
    for line in problems or ["every event was accepted and applied exactly once"]:
        print(f"  {line}")
    for line in notes:
        print(f"  note: {line}")
    for line in scan_logs() or ["no errors, warnings or 4xx/5xx in the logs"]:
        print(f"  log {line}")
    return 1 if problems else 0


PROFILE_ROWS = 15
# Waiting for work, not doing it: left out of the function profile.
IDLE = re.compile(r"'poll' of 'select.epoll'|selectors.py|^select$")


async def enable_statement_stats(server_url: str, work_dir: Path) -> None:
    """pg_stat_statements needs shared_preload_libraries, so PostgreSQL is restarted once."""
    conn: Connection = await asyncpg.connect(asyncpg_dsn(with_database(server_url, "postgres")))
    try:
        await conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
        await conn.execute("ALTER SYSTEM SET pg_stat_statements.track = 'all'")
    finally:
        await conn.close()
    command = [str(pgbench_path().parent / "pg_ctl"), "-D", str(pgdata(work_dir)), "-w"]
    # Its own log file: the server must not inherit (and hold open) this script's pipe.
    command += ["-l", str(pgdata(work_dir) / "log"), "-m", "fast", "restart"]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "embedded_postgres", "--", *command]
    output, status = await run_bounded(command, 60)
    if status != 0:
        raise BenchError(f"could not restart PostgreSQL with pg_stat_statements: {output}")


async def reset_statement_stats(conn: Connection) -> None:
    await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    await conn.execute("SELECT pg_stat_statements_reset()")


async def print_statement_profile(conn: Connection, applied: int) -> None:
    rows = await conn.fetch(
        "SELECT calls, total_exec_time, query FROM pg_stat_statements s "
        "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database() "
        "AND s.query NOT LIKE '%pg_locks%' "  # this script's lock sampling
        "ORDER BY total_exec_time DESC"
    )
    calls = sum(int(row["calls"]) for row in rows)
    total = sum(float(row["total_exec_time"]) for row in rows)
    per = 1 / max(applied, 1)
    print()
    print(
        f"Statements in kassa's database per applied event ({applied} events): {calls * per:.1f} "
        f"statements, {total * per:.2f} ms executing (pg_stat_statements; top {PROFILE_ROWS})"
    )
    print(f"{'calls/event':>11}  {'ms/event':>8}  query")
    for row in rows[:PROFILE_ROWS]:
        query = " ".join(str(row["query"]).split())[:110]
        calls_each, ms_each = int(row["calls"]) * per, float(row["total_exec_time"]) * per
        print(f"{calls_each:>11.2f}  {ms_each:>8.3f}  {query}")


def print_function_profile(applied: int) -> None:
    """The Python functions that used the most time in each group of kassa processes."""
    import pstats

    for group, pattern in (("workers", "worker-*.prof"), ("server", "server*.prof")):
        files = sorted(LOG_DIR.glob(pattern))
        if not files:
            continue
        stats = pstats.Stats(*(str(path) for path in files))
        per = 1000 / max(applied, 1)
        rows = sorted(
            (
                item
                for item in stats.stats.items()  # type: ignore[attr-defined]
                if not IDLE.search(item[0][2])
            ),
            key=lambda item: item[1][2],
            reverse=True,
        )
        print()
        print(
            f"Python in {group}, own time (tottime) per applied event over the whole run "
            f"incl. warm-up and idle (cProfile, {len(files)} processes; top {PROFILE_ROWS})"
        )
        print(f"{'ms/event':>8}  {'cum ms':>8}  {'calls/event':>11}  function")
        for (filename, line, name), (_, calls, own, cumulative, _) in rows[:PROFILE_ROWS]:
            where = f"{Path(filename).parent.name}/{Path(filename).name}:{line}({name})"
            each = calls / max(applied, 1)
            print(f"{own * per:>8.3f}  {cumulative * per:>8.3f}  {each:>11.2f}  {where}")


def pgdata(work_dir: Path) -> Path:
    return work_dir / "pg"  # where embedded_postgres(work_dir) keeps the cluster


def copy_postgres_log(work_dir: Path) -> None:
    log = pgdata(work_dir) / "log"
    if log.exists():
        shutil.copyfile(log, LOG_DIR / "postgres.log")


def parse_args(argv: Sequence[str] | None) -> Sizes:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, help="events per concurrency (default 2000)")
    parser.add_argument("--seconds", type=float, help="ack-latency test length (default 10)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--servers", type=int, default=1, help="kassa serve processes (1)")
    parser.add_argument(
        "--workers", type=int, default=WORKERS, help=f"kassa worker processes ({WORKERS})"
    )
    parser.add_argument(
        "--organizations",
        type=int,
        default=1,
        help="organizations the payments of each phase are dealt out to (1: one wallet row "
        "that every event updates)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="pg_stat_statements and cProfile in every kassa process; tables at the end",
    )
    args = parser.parse_args(argv)
    events: int = args.events if args.events is not None else (200 if args.quick else 2000)
    seconds: float = args.seconds if args.seconds is not None else (3.0 if args.quick else 10.0)
    if events < 1 or seconds <= 0 or min(args.servers, args.workers, args.organizations) < 1:
        parser.error("--events, --seconds, --servers and --workers must be positive")
    return Sizes(
        events=events,
        ack_seconds=seconds,
        pgbench_seconds=3 if args.quick else 10,
        warmup_events=min(events, 20 if args.quick else 100),
        # Generous: enough for 20 events/s; a phase that needs longer counts as incomplete.
        drain_timeout=max(60.0, events / 20, seconds * 3),
        servers=args.servers,
        workers=args.workers,
        organizations=args.organizations,
        profile=args.profile,
    )


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


async def _bench_until_signal(server_url: str, sizes: Sizes, work_dir: Path) -> int:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    limit = asyncio.timeout(sizes.overall_timeout)
    try:
        async with limit:
            return await bench(server_url, sizes, work_dir)
    except TimeoutError:
        if limit.expired():
            message = f"stopped at the overall time limit of {sizes.overall_timeout:.0f} s"
            raise BenchError(message) from None
        raise


def main(argv: Sequence[str] | None = None) -> int:
    sizes = parse_args(argv)
    # SIGTERM unwinds like Ctrl+C, so every process started here is stopped on the way out.
    signal.signal(signal.SIGTERM, _terminate)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    for name in ("server", "worker-*", "pgbench-*", "postgres"):
        for stale in LOG_DIR.glob(f"{name}.log"):
            stale.unlink()
    work_dir = Path(tempfile.mkdtemp(prefix="kassa-bench-"))
    try:
        with embedded_postgres(work_dir) as server_url:
            try:
                return asyncio.run(_bench_until_signal(server_url, sizes, work_dir))
            except BenchError as exc:
                print(f"bench: {exc}", file=sys.stderr)
                return 2
            except asyncio.CancelledError:
                print("bench: stopped by SIGTERM", file=sys.stderr)
                return 1
            finally:
                signal.signal(signal.SIGTERM, _terminate)  # asyncio.run reset it
                copy_postgres_log(work_dir)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
