"""A kassa deployment in miniature for load and crash tests: its own database, one
`kassa serve` without an in-process worker, and any number of `kassa worker` processes."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from kassa.db import apply_migrations, asyncpg_dsn, drop_database, ensure_database, with_database
from kassa.demo.local_stripe import SECRET_KEY
from tests.support import payment_intent_event

WEBHOOK_SECRET = "whsec_cluster_" + uuid.uuid4().hex
DRAIN_LIMIT_SECONDS = 180
JWT_SECRET = "cluster-jwt-secret-" + uuid.uuid4().hex


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Cluster:
    database_url: str
    logs: Path
    port: int = field(default_factory=_free_port)
    server: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    # Settings a test changes for every process (KASSA_WORKER_IN_PROCESS …).
    overrides: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "KASSA_ENV": "development",
            "KASSA_PORT": str(self.port),
            "KASSA_WORKER_IN_PROCESS": "false",
            "KASSA_SWEEP_INTERVAL_SECONDS": "0.5",
            "KASSA_WORKER_HEARTBEAT_SECONDS": "2",
            "STRIPE_SECRET_KEY": SECRET_KEY,
            "STRIPE_API_BASE": "http://127.0.0.1:9",  # applying these events calls no Stripe
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "KASSA_JWT_SECRET": JWT_SECRET,
            **self.overrides,
        }

    def _spawn(self, command: str, log_name: str) -> subprocess.Popen[bytes]:
        log = (self.logs / log_name).open("ab")
        try:
            return subprocess.Popen(
                [sys.executable, "-m", "kassa.cli", command],
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()

    async def start(self, workers: int) -> None:
        self.server = self._spawn("serve", "serve.log")
        for index in range(workers):
            self.workers.append(self._spawn("worker", f"worker-{index}.log"))
        async with httpx.AsyncClient(base_url=self.base_url) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError("kassa serve did not start; see serve.log")
                await asyncio.sleep(0.1)

    def kill_random_worker(self, rng: random.Random) -> None:
        index = rng.randrange(len(self.workers))
        victim = self.workers[index]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        self.workers[index] = self._spawn("worker", f"worker-{index}.log")

    def stop(self) -> None:
        for process in [*self.workers, *([self.server] if self.server else [])]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [*self.workers, *([self.server] if self.server else [])]:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def new_database(server_url: str) -> str:
    url = with_database(server_url, f"kassa_cluster_{uuid.uuid4().hex[:10]}")
    await ensure_database(url)
    await apply_migrations(url)
    return url


async def remove_database(url: str) -> None:
    await drop_database(url)


async def create_payments(url: str, count: int, organizations: int) -> list[tuple[str, int]]:
    """`count` unpaid top-ups spread over `organizations`; (intent id, amount) of each."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        org_ids = [uuid.uuid4() for _ in range(organizations)]
        await conn.executemany(
            "INSERT INTO organizations (id, external_id, name, created_at) "
            "VALUES ($1, $2, $2, now())",
            [(org_id, f"cluster-{org_id.hex[:8]}") for org_id in org_ids],
        )
        payments = [(f"pi_cluster_{uuid.uuid4().hex}", 100 + n) for n in range(count)]
        await conn.executemany(
            "INSERT INTO payments (id, organization_id, purpose, status, amount, currency, "
            "amount_refunded, stripe_payment_intent_id, created_at, updated_at) "
            "VALUES ($1, $2, 'WALLET_TOP_UP', 'REQUIRES_PAYMENT_METHOD', $3, 'usd', 0, $4, "
            "now(), now())",
            [
                (uuid.uuid4(), org_ids[n % organizations], amount, intent_id)
                for n, (intent_id, amount) in enumerate(payments)
            ],
        )
        return payments
    finally:
        await conn.close()


def succeeded_events(payments: list[tuple[str, int]]) -> list[str]:
    return [
        payment_intent_event("payment_intent.succeeded", intent, amount=amount, status="succeeded")
        for intent, amount in payments
    ]


async def post_all(base_url: str, payloads: list[str], concurrency: int) -> list[int]:
    """POST every payload signed, `concurrency` at a time; the status codes."""
    import stripe

    queue: asyncio.Queue[str] = asyncio.Queue()
    for payload in payloads:
        queue.put_nowait(payload)
    statuses: list[int] = []

    async def sender(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            payload = queue.get_nowait()
            signature = stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET)
            response = await client.post(
                "/webhooks/stripe",
                content=payload.encode(),
                headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
            )
            statuses.append(response.status_code)

    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        await asyncio.gather(*(sender(client) for _ in range(concurrency)))
    return statuses


async def wait_until_applied(url: str, count: int) -> int:
    """Wait (bounded) until `count` events are handled; the number handled."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        deadline = time.monotonic() + DRAIN_LIMIT_SECONDS
        while True:
            handled = await conn.fetchval(
                "SELECT count(*) FROM stripe_events WHERE status = 'PROCESSED'"
            )
            if handled >= count or time.monotonic() > deadline:
                return int(handled)
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


async def ledger_report(url: str) -> dict[str, int]:
    """The numbers a storm must leave right; all but `transfers` and `paid` must be 0."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return {
            "transfers": await conn.fetchval("SELECT count(*) FROM ledger_transfers"),
            "paid": await conn.fetchval("SELECT count(*) FROM payments WHERE status='SUCCEEDED'"),
            "payments_with_extra_transfers": await conn.fetchval(
                "SELECT count(*) FROM (SELECT payment_id FROM ledger_transfers "
                "GROUP BY payment_id HAVING count(*) > 1) AS extra"
            ),
            "units_not_summing_to_zero": await conn.fetchval(
                "SELECT count(*) FROM (SELECT unit FROM ledger_accounts GROUP BY unit "
                "HAVING sum(balance) <> 0) AS units"
            ),
            "balances_not_matching_transfers": await conn.fetchval(
                "SELECT count(*) FROM ledger_accounts a WHERE a.balance <> "
                "coalesce((SELECT sum(amount) FROM ledger_transfers t "
                "  WHERE t.credit_account_id = a.id), 0)"
                " - coalesce((SELECT sum(amount) FROM ledger_transfers t "
                "  WHERE t.debit_account_id = a.id), 0)"
            ),
            "wallet_total": await conn.fetchval(
                "SELECT coalesce(sum(balance), 0) FROM ledger_accounts WHERE kind = 'wallet'"
            ),
        }
    finally:
        await conn.close()
