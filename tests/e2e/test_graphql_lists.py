"""Lists read their rows in SQL of their own (kassa/services/rows.py), the single reads through
the models: a payment or an order reads the same on a list as by its id, field for field
(every field the schema has, so a field added later is compared too)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLObjectType, get_named_type, is_leaf_type, is_required_argument
from tortoise.transactions import in_transaction

from kassa import models
from kassa.schema import build_schema
from kassa.services import ledger, organizations
from tests.support import JSON, Kassa, Member

SCHEMA = build_schema()._schema


def _selection(type_name: str, depth: int = 1) -> str:
    """Every field of the type without arguments: leaves, and objects `depth` levels down."""
    graphql_type = SCHEMA.type_map[type_name]
    assert isinstance(graphql_type, GraphQLObjectType)
    chosen = []
    for name, field in graphql_type.fields.items():
        inner = get_named_type(field.type)
        if any(is_required_argument(arg) for arg in field.args.values()):
            continue
        if is_leaf_type(inner):
            chosen.append(name)
        elif depth > 0 and isinstance(inner, GraphQLObjectType):
            chosen.append(f"{name} {{ {_selection(inner.name, depth - 1)} }}")
        elif isinstance(inner, GraphQLObjectType):
            chosen.append(f"{name} {{ __typename }}")
    return " ".join(chosen)


PAYMENT = _selection("Payment", depth=2)
ORDER = _selection("Order", depth=2)
LISTS = f"""query($org: ID!) {{ organization(id: $org) {{
  payments(first: 50) {{ edges {{ node {{ {PAYMENT} }} }} }}
  wallet(currency: "usd") {{ transactions(first: 50) {{ edges {{ node {{
    id kind amount {{ amount currency }} balanceAfter {{ amount currency }} reason createdAt
    payment {{ {PAYMENT} }} }} }} }} }} }} }}"""
BY_ID = f"query($id: ID!) {{ payment(id: $id) {{ {PAYMENT} }} }}"
ORDER_BY_ID = f"query($id: ID!) {{ order(id: $id) {{ {ORDER} }} }}"
WALLET_AFTER = """query($org: ID!, $after: String) { organization(id: $org) {
  wallet(currency: "usd") { transactions(after: $after) { edges { cursor } } } } }"""
PAYMENTS_AFTER = """query($org: ID!, $after: String) { organization(id: $org) {
  payments(after: $after) { edges { cursor } } } }"""


async def _payment(conn: Any, organization: models.Organization, **more: Any) -> models.Payment:
    fields: dict[str, Any] = {
        "purpose": models.PaymentPurpose.WALLET_TOP_UP,
        "status": models.PaymentStatus.SUCCEEDED,
        "amount": 2500,
        "currency": "usd",
        **more,
    }
    return await models.Payment.create(organization=organization, using_db=conn, **fields)


async def _seed(member: Member) -> None:
    """Payments of every shape: paid by card into the wallet (one refunded in part), for an
    order with its details, declined, on Checkout, a duplicate in yen; a debit with a reason."""
    organization = await organizations.provision(member.external_id)
    wallet = ledger.wallet_account(organization.id, "usd")
    tag = member.external_id
    async with in_transaction() as conn:
        top_up = await _payment(
            conn,
            organization,
            card_brand="visa",
            card_last4="4242",
            card_exp_month=12,
            card_exp_year=2031,
            stripe_payment_intent_id=f"pi_{tag}",
            stripe_charge_id=f"ch_{tag}",
            amount_refunded=500,
            paid_at=datetime.now(UTC),
        )
        await models.Refund.create(payment=top_up, amount=500, currency="usd", using_db=conn)
        clearing = ledger.stripe_clearing_account("usd")
        transfers = [
            (clearing, wallet, 2500, models.TransferKind.TOP_UP, top_up.id, None),
            (wallet, clearing, 500, models.TransferKind.REFUND, top_up.id, None),
            (
                wallet,
                ledger.wallet_spend_account("usd"),
                300,
                models.TransferKind.DEBIT,
                None,
                "tea",
            ),
        ]
        for n, (debit, credit, amount, kind, payment_id, reason) in enumerate(transfers):
            await ledger.post_transfer(
                conn,
                ledger.Transfer(debit, credit, amount, kind, f"{tag}:{n}", payment_id, reason),
            )
        order = await models.Order.create(
            organization=organization,
            reference=f"{tag}-order",
            description="A pot of tea",
            amount=4900,
            currency="usd",
            customer_email="buyer@example.com",
            notify_emails=["shop@example.com", "staff@example.com"],
            using_db=conn,
        )
        await _payment(
            conn,
            organization,
            purpose=models.PaymentPurpose.ORDER,
            order=order,
            amount=4900,
            status=models.PaymentStatus.FAILED,
            failure_code="card_declined",
            failure_message="Your card was declined.",
        )
        await _payment(
            conn,
            organization,
            purpose=models.PaymentPurpose.ORDER,
            order=order,
            amount=4900,
            status=models.PaymentStatus.REQUIRES_PAYMENT_METHOD,
            stripe_checkout_session_id=f"cs_{tag}",
            via_checkout=True,
        )
        await _payment(conn, organization, currency="jpy", amount=1000, duplicate=True)


async def _lists(kassa: Kassa, member: Member) -> JSON:
    body = await kassa.gql(LISTS, {"org": member.organization_id}, member.token)
    assert "errors" not in body, body
    organization: JSON = body["data"]["organization"]
    return organization


async def test_a_payment_reads_the_same_on_its_lists_as_by_its_id(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    await _seed(member)

    # when
    lists = await _lists(kassa, member)

    # then: every payment of both lists is the payment(id:) answer, field for field
    listed = [edge["node"] for edge in lists["payments"]["edges"]]
    in_wallet = [edge["node"]["payment"] for edge in lists["wallet"]["transactions"]["edges"]]
    assert len(listed) == 4
    assert [row is None for row in in_wallet].count(True) == 1  # the debit
    for payment in listed + [row for row in in_wallet if row is not None]:
        alone = await kassa.gql(BY_ID, {"id": payment["id"]}, member.token)
        assert alone == {"data": {"payment": payment}}


async def test_an_order_reads_the_same_on_the_payments_list_as_by_its_id(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    await _seed(member)

    # when
    lists = await _lists(kassa, member)

    # then
    orders = [edge["node"]["order"] for edge in lists["payments"]["edges"]]
    order = next(order for order in orders if order is not None)
    assert order["notifyEmails"] == ["shop@example.com", "staff@example.com"]
    alone = await kassa.gql(ORDER_BY_ID, {"id": order["id"]}, member.token)
    for shown in (order for order in orders if order is not None):
        assert {"data": {"order": {**shown, "payments": alone["data"]["order"]["payments"]}}} == (
            alone
        )


async def test_the_wallet_shows_each_movement_as_the_wallet_saw_it(kassa: Kassa) -> None:
    # given
    member = await kassa.member()
    await _seed(member)

    # when
    lists = await _lists(kassa, member)

    # then: signed amounts and the balance after each, oldest last
    rows = [edge["node"] for edge in lists["wallet"]["transactions"]["edges"]]
    shown = sorted(
        (row["balanceAfter"]["amount"], row["kind"], row["amount"]["amount"], row["reason"])
        for row in rows
    )
    assert shown == [
        ("17.00", "DEBIT", "-3.00", "tea"),
        ("20.00", "REFUND", "-5.00", None),
        ("25.00", "TOP_UP", "25.00", None),
    ]
    assert all(row["id"].startswith("wtx_") for row in rows)


async def test_a_cursor_that_names_no_row_id_is_a_clear_error(kassa: Kassa) -> None:
    # given: lists with rows, and a cursor of a real moment and an id that is no uuid
    member = await kassa.member()
    await _seed(member)
    cursor = base64.urlsafe_b64encode(b"2026-01-01T00:00:00+00:00|not-a-uuid").decode()

    for query in (WALLET_AFTER, PAYMENTS_AFTER):
        # when
        body = await kassa.gql(
            query, {"org": member.organization_id, "after": cursor}, member.token
        )

        # then
        assert body["errors"][0]["message"] == "after is not a valid cursor"
        assert body["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": "after"}
