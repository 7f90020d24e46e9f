"""Relay's contract: every Node found by `node(id:)`, and page info that tells where a page is."""

from __future__ import annotations

import graphql

from kassa.schema import build_schema
from tests.e2e.test_refunds import _paid_order, _refund
from tests.e2e.test_saved_cards import _saved_card
from tests.e2e.test_subscriptions import _subscribe
from tests.support import JSON, Kassa, Member

NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
PAGE = "edges { cursor } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"
PAYMENTS = f"""
query($org: ID!, $after: String) {{
  organization(id: $org) {{ page: payments(first: 2, after: $after) {{ {PAGE} }} }}
}}
"""
TRANSACTIONS = f"""
query($org: ID!, $after: String) {{
  organization(id: $org) {{
    wallet(currency: "usd") {{ page: transactions(first: 2, after: $after) {{ {PAGE} }} }}
  }}
}}
"""


def _node_types() -> set[str]:
    schema = build_schema()._schema
    node = schema.get_type("Node")
    assert isinstance(node, graphql.GraphQLInterfaceType)
    return {implementation.name for implementation in schema.get_implementations(node).objects}


async def _one_of_each_node(kassa: Kassa, member: Member) -> dict[str, str]:
    """The id of one object of every kind that implements Node, all of `member`'s."""
    order_id, payment_id = await _paid_order(kassa, member, "20.00")
    refunded = await _refund(kassa, member.token, payment_id, amount="2.00")
    return {
        "Organization": member.organization_id,
        "Order": order_id,
        "Payment": payment_id,
        "Refund": refunded["refund"]["id"],
        "PaymentMethod": await _saved_card(kassa, member),
        "Invoice": await _invoice_id(kassa, member, payment_id),
        "CreditSubscription": await _subscription_id(kassa, member),
    }


async def _subscription_id(kassa: Kassa, member: Member) -> str:
    subscribed = await _subscribe(kassa, member, paymentMethodId="pm_card_visa")
    subscription_id: str = subscribed["subscription"]["id"]
    return subscription_id


async def _invoice_id(kassa: Kassa, member: Member, payment_id: str) -> str:
    query = "query($id: ID!) { payment(id: $id) { invoice { id } } }"
    body = await kassa.gql(query, {"id": payment_id}, member.token)
    invoice_id: str = body["data"]["payment"]["invoice"]["id"]
    return invoice_id


async def _node(kassa: Kassa, member: Member, id: str) -> JSON | None:
    body = await kassa.gql(NODE, {"id": id}, member.token)
    assert "errors" not in body, body
    found: JSON | None = body["data"]["node"]
    return found


async def test_every_node_type_is_found_by_its_id_and_only_by_its_organization(
    kassa: Kassa,
) -> None:
    # given: one object of every Node type in A, and an owner of another organization
    a = await kassa.member()
    b = await kassa.member()
    ids = await _one_of_each_node(kassa, a)
    assert set(ids) == _node_types(), "a new Node type needs an object here"

    # when
    as_a = {name: await _node(kassa, a, id) for name, id in ids.items()}
    as_b = {name: await _node(kassa, b, id) for name, id in ids.items()}

    # then
    assert as_a == {name: {"__typename": name, "id": id} for name, id in ids.items()}
    assert as_b == dict.fromkeys(ids)


async def _walk(kassa: Kassa, member: Member, query: str) -> list[JSON]:
    """What the first three pages say about themselves (two rows a page)."""
    pages: list[JSON] = []
    after = None
    for _ in range(3):
        body = await kassa.gql(query, {"org": member.organization_id, "after": after}, member.token)
        assert "errors" not in body, body
        found = body["data"]["organization"]
        page = (found.get("wallet") or found)["page"]
        pages.append(_page_info(page))
        after = page["pageInfo"]["endCursor"]
    return pages


def _page_info(page: JSON) -> JSON:
    cursors = [edge["cursor"] for edge in page["edges"]]
    return {
        **page["pageInfo"],
        "startCursor": page["pageInfo"]["startCursor"] == (cursors[0] if cursors else None),
        "endCursor": page["pageInfo"]["endCursor"] == (cursors[-1] if cursors else None),
        "edges": len(cursors),
    }


async def test_page_info_says_whether_rows_come_before_and_after_the_page(kassa: Kassa) -> None:
    # given: three payments, and so three wallet top-ups
    member = await kassa.member()
    for _ in range(3):
        topped = await kassa.top_up(member, "1.00", paymentMethodId="pm_card_visa")
        assert topped["payment"]["status"] == "SUCCEEDED", topped

    # when: paging forward two at a time, to the end and one page past it
    walks = [await _walk(kassa, member, query) for query in (PAYMENTS, TRANSACTIONS)]

    # then: cursors name the first and last edge; before the first page there is nothing
    cursors = {"startCursor": True, "endCursor": True}
    for walk in walks:
        assert walk == [
            {**cursors, "edges": 2, "hasNextPage": True, "hasPreviousPage": False},
            {**cursors, "edges": 1, "hasNextPage": False, "hasPreviousPage": True},
            {**cursors, "edges": 0, "hasNextPage": False, "hasPreviousPage": True},
        ]
