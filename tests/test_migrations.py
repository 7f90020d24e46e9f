"""The migrations in the tree match the models, and `kassa serve` guards against drift."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from datetime import UTC, datetime

import asyncpg
from tortoise.migrations.autodetector import MigrationAutodetector
from tortoise.migrations.executor import MigrationTarget

from kassa.db import (
    _migration_executor,
    apply_migrations,
    asyncpg_dsn,
    drop_database,
    ensure_database,
    known_migrations,
    pending_migrations,
    tortoise_config,
    with_database,
)
from kassa.models import Invoice, Payment
from kassa.services import invoice_pdf, invoices
from tests.support import Kassa


async def test_models_have_no_changes_missing_a_migration(kassa: Kassa) -> None:
    from tortoise import Tortoise

    apps_config = tortoise_config("postgresql://unused/kassa")["apps"]
    assert Tortoise.apps is not None
    writers = await MigrationAutodetector(Tortoise.apps, apps_config).changes()

    assert [writer.name for writer in writers] == [], "run `kassa makemigrations`"


async def test_fresh_database_has_every_migration_pending(database_server_url: str) -> None:
    url = with_database(database_server_url, f"kassa_fresh_{uuid.uuid4().hex[:8]}")
    await ensure_database(url)
    try:
        assert await pending_migrations(url) == [*known_migrations(), "job queue"]
    finally:
        await drop_database(url)


async def test_serve_refuses_to_start_with_pending_migrations(
    kassa: Kassa, database_server_url: str
) -> None:
    # given: an empty database named by DATABASE_URL
    url = with_database(database_server_url, f"kassa_pending_{uuid.uuid4().hex[:8]}")
    await ensure_database(url)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "KASSA_JWT_SECRET": kassa.settings.jwt_secret or "",
        "STRIPE_SECRET_KEY": "sk_test_kassa",
    }

    # when
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kassa.cli", "serve", env=env, stderr=asyncio.subprocess.PIPE
        )
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        await drop_database(url)

    # then
    assert process.returncode == 2
    assert "run `kassa migrate` first" in stderr.decode()
    assert "0001_initial" in stderr.decode()


BEFORE_INVOICES = "0016_refund_stripe_calls"


async def test_invoices_migration_numbers_the_payments_paid_before_it(
    database_server_url: str,
) -> None:
    # given: a database at the migration before invoices, with two organizations' payments
    url = with_database(database_server_url, f"kassa_backfill_{uuid.uuid4().hex[:8]}")
    await ensure_database(url)
    try:
        await _migrate_to(url, BEFORE_INVOICES)
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            a, b = await _organization(conn, "Alpha"), await _organization(conn, "北方")
            paid = {
                # org A, in the order they were paid (created in another order)
                "a1": await _payment(conn, a, "SUCCEEDED", 1000, "usd", paid_minute=1),
                "a3": await _payment(conn, a, "SUCCEEDED", 500, "jpy", paid_minute=9, refunded=500),
                "a2": await _payment(conn, a, "SUCCEEDED", 700, "usd", paid_minute=5, refunded=200),
                "b1": await _payment(conn, b, "SUCCEEDED", 2500, "cny", paid_minute=2),
                "b2": await _package_payment(conn, b, paid_minute=3),
                "b3": await _order_payment(conn, b, paid_minute=4),
            }
            unpaid = [
                await _payment(conn, a, "FAILED", 900, "usd"),
                await _payment(conn, a, "CANCELED", 900, "usd"),
                await _payment(conn, b, "REQUIRES_PAYMENT_METHOD", 900, "usd"),
            ]

            # when
            await apply_migrations(url)

            # then: one invoice per succeeded payment, numbered 1, 2, 3 … per organization
            rows = await conn.fetch(
                "SELECT i.*, p.amount_refunded, p.amount FROM invoices i "
                "JOIN payments p ON p.id = i.payment_id"
            )
            by_payment = {row["payment_id"]: row for row in rows}
            assert set(by_payment) == set(paid.values())
            assert not set(by_payment) & set(unpaid)
            numbers = {name: by_payment[payment]["sequence"] for name, payment in paid.items()}
            assert numbers == {"a1": 1, "a2": 2, "a3": 3, "b1": 1, "b2": 2, "b3": 3}
            a_prefix = a.hex[:8].upper()
            assert by_payment[paid["a2"]]["number"] == f"{a_prefix}-000002"
            assert [
                (row["total"], row["currency"]) for row in rows if row["payment_id"] == paid["a3"]
            ] == [(500, "jpy")]
            statuses = {
                name: invoices.status_of(
                    Payment(amount=row["amount"], amount_refunded=row["amount_refunded"])
                )
                for name, payment in paid.items()
                for row in [by_payment[payment]]
            }
            assert statuses == {
                "a1": "paid",
                "a2": "partially_refunded",
                "a3": "refunded",
                "b1": "paid",
                "b2": "paid",
                "b3": "paid",
            }
            lines = [
                json.loads(by_payment[paid[name]]["document"])["lines"] for name in ("b2", "b3")
            ]
            assert [(line[0]["description"], line[0]["detail"]) for line in lines] == [
                ("标准包", "1,000 credits"),
                ("Two hours of tutoring", "Reference T-7"),
            ]
            # and each renders as a PDF, and the next invoice continues the numbering
            for row in rows:
                invoice_pdf.render(Invoice(**_invoice_fields(row)))
            await _issue_unnumbered(conn, a, by_payment[paid["a1"]])
            assert (
                await conn.fetchval(
                    "SELECT max(sequence) FROM invoices WHERE organization_id = $1", a
                )
                == 4
            )
        finally:
            await conn.close()
    finally:
        await drop_database(url)


async def _migrate_to(url: str, name: str) -> None:
    async with _migration_executor(url) as executor:
        await executor.migrate([MigrationTarget(app_label="kassa", name=name)])


async def _organization(conn: asyncpg.Connection, name: str) -> uuid.UUID:
    organization_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO organizations (id, external_id, name, created_at) VALUES ($1, $2, $3, now())",
        organization_id,
        f"ext-{organization_id.hex}",
        name,
    )
    return organization_id


async def _payment(
    conn: asyncpg.Connection,
    organization_id: uuid.UUID,
    status: str,
    amount: int,
    currency: str,
    *,
    paid_minute: int | None = None,
    refunded: int = 0,
    purpose: str = "WALLET_TOP_UP",
) -> uuid.UUID:
    payment_id = uuid.uuid4()
    paid_at = datetime(2026, 1, 1, 12, paid_minute, tzinfo=UTC) if paid_minute is not None else None
    await conn.execute(
        "INSERT INTO payments (id, organization_id, purpose, status, amount, currency, "
        "amount_refunded, paid_at, created_at, updated_at) "
        "VALUES ($1, $2, $8, $3, $4, $5, $6, $7, now(), now())",
        payment_id,
        organization_id,
        status,
        amount,
        currency,
        refunded,
        paid_at,
        purpose,
    )
    return payment_id


async def _package_payment(
    conn: asyncpg.Connection, organization_id: uuid.UUID, paid_minute: int
) -> uuid.UUID:
    await conn.execute(
        "INSERT INTO credit_packages (code, name, credits, price, currency, active, updated_at) "
        "VALUES ('standard', '标准包', 1000, 6800, 'cny', true, now())"
    )
    payment_id = await _payment(
        conn,
        organization_id,
        "SUCCEEDED",
        6800,
        "cny",
        paid_minute=paid_minute,
        purpose="CREDIT_PACKAGE",
    )
    await conn.execute(
        "UPDATE payments SET credit_package_code = 'standard', credits = 1000 WHERE id = $1",
        payment_id,
    )
    return payment_id


async def _order_payment(
    conn: asyncpg.Connection, organization_id: uuid.UUID, paid_minute: int
) -> uuid.UUID:
    order_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO orders (id, organization_id, amount, currency, status, notify_emails, "
        "description, reference, created_at, updated_at) "
        "VALUES ($1, $2, 4000, 'usd', 'PAID', '[]', 'Two hours of tutoring', 'T-7', now(), now())",
        order_id,
        organization_id,
    )
    payment_id = await _payment(
        conn, organization_id, "SUCCEEDED", 4000, "usd", paid_minute=paid_minute, purpose="ORDER"
    )
    await conn.execute("UPDATE payments SET order_id = $2 WHERE id = $1", payment_id, order_id)
    return payment_id


def _invoice_fields(row: asyncpg.Record) -> dict[str, object]:
    fields = dict(row)
    document = fields["document"]
    fields["document"] = json.loads(document) if isinstance(document, str) else document
    return {key: fields[key] for key in ("id", "number", "currency", "total", "document")}


async def _issue_unnumbered(
    conn: asyncpg.Connection, organization_id: uuid.UUID, model: asyncpg.Record
) -> None:
    """Another payment's invoice as `invoices.issue` writes it, numbered by its statement."""
    payment_id = await _payment(conn, organization_id, "SUCCEEDED", 100, "usd", paid_minute=30)
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO invoices (id, organization_id, payment_id, currency, total, tax, "
            "document, issued_at, created_at) VALUES ($1, $2, $3, 'usd', 100, 0, $4, now(), now())",
            uuid.uuid4(),
            organization_id,
            payment_id,
            model["document"],
        )
        await conn.execute(invoices.NUMBER_PENDING)
