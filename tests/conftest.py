"""One real PostgreSQL, one local Stripe-compatible server and one kassa server per session.

kassa runs under uvicorn on 127.0.0.1 in the test session's event loop, so the local Stripe
server can deliver its signed webhooks to it over HTTP, exactly as Stripe would.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import stripe
import uvicorn
from aiosmtpd.controller import Controller

from kassa.app import create_app
from kassa.config import Environment, Settings
from kassa.db import (
    apply_migrations,
    drop_database,
    embedded_postgres,
    ensure_database,
    with_database,
)
from kassa.demo.local_stripe import PUBLISHABLE_KEY, SECRET_KEY, LocalStripe
from tests.support import Inbox, Kassa

WEBHOOK_SECRET = "whsec_kassa_test_" + uuid.uuid4().hex
JWT_SECRET = "kassa-test-jwt-secret-" + uuid.uuid4().hex + uuid.uuid4().hex


@pytest.fixture(scope="session")
def database_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`KASSA_TEST_DATABASE_URL` when given (a server to create a test database on), else
    the embedded PostgreSQL in a fresh temporary data dir."""
    configured = os.environ.get("KASSA_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    with embedded_postgres(tmp_path_factory.mktemp("kassa-data")) as url:
        yield url


@pytest.fixture(scope="session")
async def database_url(database_server_url: str) -> AsyncIterator[str]:
    url = with_database(database_server_url, f"kassa_test_{uuid.uuid4().hex[:12]}")
    await ensure_database(url)
    await apply_migrations(url)
    yield url
    await drop_database(url)


@pytest.fixture(scope="session")
def local_stripe() -> Iterator[LocalStripe]:
    server = LocalStripe.start(ttl_seconds=3600)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def smtp() -> Iterator[Inbox]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""
    inbox = Inbox()
    inbox.port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def kassa_socket() -> Iterator[socket.socket]:
    """kassa's listening socket, bound first so that its address is in the settings."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


@pytest.fixture(scope="session")
def settings(
    local_stripe: LocalStripe,
    smtp: Inbox,
    tmp_path_factory: pytest.TempPathFactory,
    kassa_socket: socket.socket,
) -> Settings:
    return Settings(
        KASSA_PUBLIC_URL=f"http://127.0.0.1:{kassa_socket.getsockname()[1]}",
        KASSA_ENV=Environment.DEVELOPMENT,
        KASSA_DATA_DIR=Path(tmp_path_factory.mktemp("kassa-state")),
        STRIPE_SECRET_KEY=SECRET_KEY,
        STRIPE_PUBLISHABLE_KEY=PUBLISHABLE_KEY,
        STRIPE_API_BASE=local_stripe.api_base,
        STRIPE_JS_URL=local_stripe.js_url,
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        KASSA_JWT_SECRET=JWT_SECRET,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp.port,
        SMTP_FROM="shop <shop@kassa.test>",
        KASSA_ADMIN_EMAILS="ops@kassa.test, finance@kassa.test",
        # Invoices name a seller.
        KASSA_SELLER_NAME="Kassa Test 有限公司",
        KASSA_SELLER_ADDRESS="1 Test Street, 8000 Zürich",
        KASSA_SELLER_TAX_ID="CHE-123.456.789",
        # Retries and sweeps at test speed.
        KASSA_SWEEP_INTERVAL_SECONDS=0.2,
        KASSA_WORKER_HEARTBEAT_SECONDS=2,
        KASSA_CREDIT_EXPIRY_INTERVAL_SECONDS=1.0,
        # Retry mails at once (tests/e2e/test_recovery.py tests the wait by itself).
        KASSA_RECOVERY_MAIL_DELAY_SECONDS=0,
        # Every test shares 127.0.0.1; the limits have tests of their own (test_rate_limits).
        KASSA_RATE_LIMIT_PER_ADDRESS=0,
        KASSA_RATE_LIMIT_PER_CALLER=0,
    )


@pytest.fixture(scope="session")
async def kassa(
    settings: Settings, database_url: str, local_stripe: LocalStripe, kassa_socket: socket.socket
) -> AsyncIterator[Kassa]:
    sock = kassa_socket
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, database_url), log_level="warning", lifespan="on")
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.02)
    webhook_url = f"{base_url}/webhooks/stripe"
    local_stripe.register_webhook(webhook_url, WEBHOOK_SECRET)
    browser_http = stripe.HTTPXClient()
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        yield Kassa(
            http=http,
            settings=settings,
            stripe=_stripe_client(local_stripe, browser_http),
            webhook_url=webhook_url,
        )
    await browser_http.close_async()  # type: ignore[no-untyped-call]
    server.should_exit = True
    await serving


def _stripe_client(local_stripe: LocalStripe, http: stripe.HTTPXClient) -> stripe.StripeClient:
    """What a browser's Stripe.js does, done by the tests through the real SDK."""
    return stripe.StripeClient(
        SECRET_KEY,
        http_client=http,
        base_addresses={"api": local_stripe.api_base},
        max_network_retries=0,
    )
