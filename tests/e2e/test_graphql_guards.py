"""BAD_INPUTS 20-25 and 30: documents, batches and bodies a client can send to /graphql.

Each is rejected before strawberry validates it (validation itself is what such documents
attack), with a readable error, and nothing is written.
"""

from __future__ import annotations

import json

import pytest
from graphql import get_introspection_query

from kassa.config import Settings
from kassa.models import Payment
from kassa.schema import build_schema
from kassa.schema.guards import (
    Limits,
    Rejected,
    _verdict,
    check_variables,
    guarded_document,
)
from tests.support import JSON, Kassa


async def _post(kassa: Kassa, query: str, variables: JSON | None = None, token: str = "") -> JSON:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await kassa.http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: JSON = response.json()
    return body


def _rejection(body: JSON) -> str:
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_REJECTED", error
    message: str = error["message"]
    return message


def _fragment_chain(levels: int, spreads: int) -> str:
    """Fragment F0 spreads F1 `spreads` times, F1 spreads F2 ..., the last selects a field."""
    parts = ["query { viewer { ...F0 } }"]
    for level in range(levels):
        inner = " ".join(f"...F{level + 1}" for _ in range(spreads))
        parts.append(f"fragment F{level} on Viewer {{ userId {inner} }}")
    parts.append(f"fragment F{levels} on Viewer {{ userId }}")
    return "\n".join(parts)


async def test_a_query_nested_a_thousand_levels_is_rejected(kassa: Kassa) -> None:
    deep = "{ viewer " + "{ organizations { organization " * 500 + "{ id }" + " }" * 1001 + " }"

    message = _rejection(await _post(kassa, deep))

    assert "tokens" in message or "nested" in message


async def test_a_query_deeper_than_the_limit_is_rejected_by_name(kassa: Kassa) -> None:
    levels = 11  # two fields per level: 22 deep, over the default 20
    deep = "{ viewer " + "{ organizations { organization " * levels + "{ id }" + " } }" * levels
    deep += " }"

    message = _rejection(await _post(kassa, deep))

    assert message == "the query is nested deeper than 20 levels"


async def test_a_chain_of_fragments_is_rejected_without_expanding_it(kassa: Kassa) -> None:
    # 10**8 selections if expanded; counted once per fragment it is a few dozen.
    message = _rejection(await _post(kassa, _fragment_chain(levels=8, spreads=10)))

    assert message.startswith("the query selects more than 500 fields")


async def test_fragments_that_spread_each_other_are_rejected(kassa: Kassa) -> None:
    cycle = (
        "query { viewer { ...A } } fragment A on Viewer { userId ...B } "
        "fragment B on Viewer { userId ...A }"
    )

    assert _rejection(await _post(kassa, cycle)).endswith("spreads itself")


async def test_ten_thousand_aliases_are_rejected(kassa: Kassa) -> None:
    def aliases(count: int) -> str:
        return "{ " + " ".join("a:__typename" for _ in range(count)) + " }"

    ten_thousand = await kassa.http.post("/graphql", json={"query": aliases(10_000)})

    # 10,000 do not fit in the body; 3,000 do and stop at the token limit; 31 at the alias one
    assert ten_thousand.status_code == 413
    assert "1000 tokens" in _rejection(await _post(kassa, aliases(3_000)))
    assert _rejection(await _post(kassa, aliases(31))) == "the query uses more than 30 aliases"


async def test_aliased_mutations_over_the_limit_change_nothing(kassa: Kassa) -> None:
    member = await kassa.member()
    top_up = (
        '{n}: topUpWallet(input: {{organizationId: "{org}", amount: "1.00", currency: "usd"}}) '
        "{{ __typename }}"
    )
    mutation = (
        "mutation { "
        + " ".join(top_up.format(n=f"t{n}", org=member.organization_id) for n in range(40))
        + " }"
    )

    _rejection(await _post(kassa, mutation, token=member.token))

    assert await Payment.filter(organization__external_id=member.external_id).count() == 0


async def test_a_batch_of_operations_is_400(kassa: Kassa) -> None:
    batch = [{"query": "{ viewer { userId } }"}] * 500

    response = await kassa.http.post("/graphql", json=batch)

    assert response.status_code == 400
    assert "Batching is not enabled" in response.text


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"ids": list(range(300))}, "variables hold more than 200 values"),
        ({"deep": json.loads("[" * 12 + "]" * 12)}, "variables are nested deeper than 8 levels"),
    ],
)
async def test_oversized_variables_are_rejected(
    kassa: Kassa, variables: JSON, message: str
) -> None:
    assert _rejection(await _post(kassa, "{ viewer { userId } }", variables)) == message


async def test_a_mutation_over_get_is_400(kassa: Kassa) -> None:
    member = await kassa.member()
    query = (
        f'mutation {{ topUpWallet(input: {{organizationId: "{member.organization_id}", '
        'amount: "1.00", currency: "usd"}) { __typename } }'
    )

    response = await kassa.http.get(
        "/graphql", params={"query": query}, headers={"Authorization": f"Bearer {member.token}"}
    )

    assert response.status_code == 400
    assert await Payment.filter(organization__external_id=member.external_id).count() == 0


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"data": {"query": "{ viewer { userId } }"}},
        {"files": {"query": ("q.graphql", b"{ viewer { userId } }")}},
        {"content": "{ viewer { userId } }", "headers": {"Content-Type": "application/graphql"}},
        {"content": "query=%7B%7D", "headers": {"Content-Type": "text/plain"}},
    ],
)
async def test_forms_multipart_and_other_bodies_are_400(kassa: Kassa, request_kwargs: JSON) -> None:
    response = await kassa.http.post("/graphql", **request_kwargs)

    assert response.status_code == 400


async def test_a_normal_query_passes_the_guards(kassa: Kassa) -> None:
    member = await kassa.member()
    query = """
    query Wallet($org: ID!) {
      organization(id: $org) {
        wallet(currency: "usd") { balance { amount } transactions(first: 5) { edges { node {
          id kind amount { amount } payment { id status card { brand last4 } refunds { id } }
        } } } }
        credits { balance lots { id } }
      }
    }
    """

    body = await _post(kassa, query, {"org": member.organization_id}, member.token)

    assert "errors" not in body
    assert body["data"]["organization"]["wallet"]["balance"] == {"amount": "0.00"}


async def test_introspection_is_off_in_production_and_on_in_development() -> None:
    introspection = get_introspection_query()

    production = await build_schema(Limits(), production=True).execute(introspection)
    development = await build_schema(Limits()).execute(introspection)

    assert production.errors and "introspection" in production.errors[0].message.lower()
    assert development.errors is None


async def test_field_suggestions_are_off_in_production() -> None:
    typo = "{ viewr { userId } }"

    production = await build_schema(Limits(), production=True).execute(typo)
    development = await build_schema(Limits()).execute(typo)

    assert production.errors and "Did you mean" not in production.errors[0].message
    assert development.errors and "Did you mean" in development.errors[0].message


def test_graphiql_is_off_in_production_unless_asked_for() -> None:
    production = Settings.model_validate({"KASSA_ENV": "production"})
    asked = Settings.model_validate({"KASSA_ENV": "production", "KASSA_GRAPHIQL": "true"})
    development = Settings.model_validate({"KASSA_ENV": "development"})

    assert (production.graphiql_enabled, asked.graphiql_enabled) == (False, True)
    assert development.graphiql_enabled


async def test_an_unterminated_string_is_refused_in_linear_time(kassa: Kassa) -> None:
    # Each `"` would otherwise start a scan to the end of the line: quadratic.
    query = '{ viewer(s: "' + '\\"' * 10_000 + " }"

    assert _rejection(await _post(kassa, query)) == "the query has an unterminated string"


def test_documents_and_variables_are_bounded_where_no_body_cap_applies() -> None:
    # Websocket messages and GET query strings do not pass the body cap.
    with pytest.raises(Rejected, match="the query is longer than 65536 characters"):
        guarded_document("{ viewer { userId } }" + " " * 70_000, Limits())
    with pytest.raises(Rejected, match="more than 65536 characters"):
        check_variables({"note": "x" * 70_000}, Limits())


def test_an_oversized_document_is_not_kept_in_the_verdict_cache() -> None:
    before = _verdict.cache_info().currsize
    with pytest.raises(Rejected, match="longer than"):
        guarded_document("{ viewer { userId } }" + " " * 70_000, Limits())

    assert _verdict.cache_info().currsize == before


def test_a_block_string_may_hold_backslashes_and_escaped_quotes() -> None:
    windows_path = '{ viewer(note: """C:\\\n""") { userId } }'
    escaped = '{ viewer(note: """a \\""" b""") { userId } }'

    assert not isinstance(_verdict(windows_path, Limits()), Rejected)
    assert not isinstance(_verdict(escaped, Limits()), Rejected)


async def test_a_refused_subscription_answers_with_the_error() -> None:
    # Over a websocket a refusal must reach the client as an error, not end the stream.
    deep = 'subscription Deep { paymentUpdated(paymentId: "x") ' + "{ order " * 25 + "{ id }"
    deep += " }" * 26

    results = await build_schema(Limits()).subscribe(deep, operation_name="Deep")
    first = await anext(results)

    assert first.errors is not None
    assert first.errors[0].message == "the query is nested deeper than 20 levels"
    assert first.errors[0].extensions == {"code": "QUERY_REJECTED"}
