"""SQL statements per list query are constant in the list's size (1 row vs 50 rows)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from tortoise.transactions import in_transaction

from kassa import models
from kassa.services import credit_lots, ledger, organizations
from tests.support import Kassa, Member

WALLET = """query($org: ID!) { organization(id: $org) { wallet(currency: "usd") {
  transactions(first: 50) { edges { node { id kind amount { amount } balanceAfter { amount }
  payment { status card { last4 } } } } pageInfo { hasNextPage } } } } }"""
PAYMENTS = """query($org: ID!) { organization(id: $org) { payments(first: 50) { edges { node {
  id status amount { amount } card { last4 } order { reference status payments { id } }
  refunds { id amount { amount } } } } } } }"""
ORDERS = """query($org: ID!) { organization(id: $org) { orders(first: 50) { edges { node {
  id reference amount { amount } payments { status order { id } } } } } } }"""
CREDITS = """query($org: ID!) { organization(id: $org) { credits { balance lots { id payment {
  status } } transactions(first: 50) { edges { node { id kind credits payment { status } } } }
  } } }"""
RESET = "SELECT pg_advisory_unlock_all()"
# What the server does meanwhile for others (webhooks from the local Stripe server, the
# event lane's batches) and never for a list query, which only reads.
NOT_A_LIST_READ = ("stripe_events", "pg_notify", "pgqueuer", "outbox_messages", "FOR UPDATE")


def _a_read(query: str) -> bool:
    """A statement a list query could send (asyncpg's own pool reset is not kassa's)."""
    text = query.lstrip()
    return (
        text.upper().startswith("SELECT")
        and not text.startswith(RESET)
        and not any(part in text for part in NOT_A_LIST_READ)
        and "FOR NO KEY UPDATE" not in text
    )


METHODS = ("execute", "executemany", "fetch", "fetchrow", "fetchval")


@contextlib.contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL sent by tasks started from now on: the server's handling of a request, not
    the worker's timers that were running before."""
    before = asyncio.all_tasks()
    sent: list[str] = []
    originals = {name: getattr(asyncpg.Connection, name) for name in METHODS}

    def counted(original: Callable[..., Any]) -> Callable[..., Any]:
        async def send(connection: Any, query: str, *args: Any, **kwargs: Any) -> Any:
            # asyncpg's own reset of a connection going back to the pool is not kassa's.
            if asyncio.current_task() not in before and _a_read(query):
                sent.append(query)
            return await original(connection, query, *args, **kwargs)

        return send

    for name, original in originals.items():
        setattr(asyncpg.Connection, name, counted(original))
    try:
        yield sent
    finally:
        for name, original in originals.items():
            setattr(asyncpg.Connection, name, original)


async def _organization(member: Member) -> models.Organization:
    return await organizations.provision(member.external_id)


async def _payment(
    conn: Any, organization: models.Organization, purpose: models.PaymentPurpose, **more: Any
) -> models.Payment:
    return await models.Payment.create(
        organization=organization,
        purpose=purpose,
        status=models.PaymentStatus.SUCCEEDED,
        amount=2500,
        currency="usd",
        card_brand="visa",
        card_last4="4242",
        paid_at=datetime.now(UTC),
        using_db=conn,
        **more,
    )


async def _seed(member: Member, rows: int) -> None:
    """`rows` of every list: top-ups, paid orders with a refund each, lots, credit spends."""
    organization = await _organization(member)
    wallet = ledger.wallet_account(organization.id, "usd")
    credits = credit_lots.credits_account(organization.id)
    tag = member.external_id
    async with in_transaction() as conn:
        for n in range(rows):
            top_up = await _payment(conn, organization, models.PaymentPurpose.WALLET_TOP_UP)
            await ledger.post_transfer(
                conn,
                ledger.Transfer(
                    ledger.stripe_clearing_account("usd"),
                    wallet,
                    2500,
                    models.TransferKind.TOP_UP,
                    f"{tag}:top-up:{n}",
                    top_up.id,
                ),
            )
            order = await models.Order.create(
                organization=organization,
                reference=f"{tag}-{n}",
                amount=2500,
                currency="usd",
                status=models.OrderStatus.PAID,
                using_db=conn,
            )
            paid = await _payment(conn, organization, models.PaymentPurpose.ORDER, order=order)
            await models.Refund.create(
                payment=paid,
                amount=100,
                currency="usd",
                using_db=conn,
            )
            bought = await _payment(conn, organization, models.PaymentPurpose.CREDIT_PACKAGE)
            await models.CreditLot.create(
                organization=organization,
                payment=bought,
                credits=100,
                remaining=100,
                expires_at=datetime.now(UTC) + timedelta(days=30),
                using_db=conn,
            )
            await ledger.post_transfer(
                conn,
                ledger.Transfer(
                    credit_lots.CREDITS_ISSUED,
                    credits,
                    100,
                    models.TransferKind.PURCHASE,
                    f"{tag}:lot:{n}",
                    bought.id,
                ),
            )


async def _statements(kassa: Kassa, member: Member, query: str) -> list[str]:
    """The fewest of five runs: a webhook or job arriving meanwhile only ever adds
    statements of its own (the local Stripe server sends events at any time)."""
    runs = []
    for _ in range(5):
        with statements() as sent:
            body = await kassa.gql(query, {"org": member.organization_id}, member.token)
        assert "errors" not in body, body
        runs.append(sent)
    return min(runs, key=len)


@pytest.mark.parametrize("query", [WALLET, PAYMENTS, ORDERS, CREDITS])
async def test_a_list_of_50_rows_sends_as_many_statements_as_a_list_of_1(
    kassa: Kassa, query: str
) -> None:
    # given: one organization with 1 row of everything, another with 50
    one, fifty = await kassa.member(), await kassa.member()
    await _seed(one, 1)
    await _seed(fifty, 50)
    await _statements(kassa, one, query)  # the caller's first request provisions nothing new

    # when
    for_one = await _statements(kassa, one, query)
    for_fifty = await _statements(kassa, fifty, query)

    # then
    assert len(for_fifty) == len(for_one), "\n".join(for_fifty) + "\n--\n" + "\n".join(for_one)
    assert len(for_one) <= 8, "\n".join(for_one)
