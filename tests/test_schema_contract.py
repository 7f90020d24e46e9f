"""The schema as a contract: every public name described, and the committed SDL current."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import graphql

from kassa.schema import build_schema
from kassa.schema.checkout import CheckoutPaymentStatus, CheckoutStatus
from kassa.schema.scalars import SCALARS

ROOT = Path(__file__).resolve().parent.parent


def _undocumented_fields(owner: str, fields: dict[str, graphql.GraphQLField]) -> list[str]:
    missing = [f"{owner}.{name}" for name, field in fields.items() if not field.description]
    return missing + [
        f"{owner}.{name}({arg_name}:)"
        for name, field in fields.items()
        for arg_name, arg in field.args.items()
        if not arg.description
    ]


def _undocumented_in(named: graphql.GraphQLNamedType) -> list[str]:
    missing = [] if named.description else [named.name]
    if isinstance(named, graphql.GraphQLObjectType | graphql.GraphQLInterfaceType):
        missing += _undocumented_fields(named.name, named.fields)
    if isinstance(named, graphql.GraphQLInputObjectType):
        missing += [f"{named.name}.{n}" for n, f in named.fields.items() if not f.description]
    if isinstance(named, graphql.GraphQLEnumType):
        missing += [f"{named.name}.{n}" for n, v in named.values.items() if not v.description]
    return missing


def _undocumented(schema: graphql.GraphQLSchema) -> list[str]:
    """Every type, field, argument, input field, enum value and directive of kassa's own
    that has no description (GraphQL's built-ins come described)."""
    missing = [
        name
        for named in schema.type_map.values()
        if not named.name.startswith("__") and not graphql.is_specified_scalar_type(named)
        for name in _undocumented_in(named)
    ]
    for directive in schema.directives:
        if not graphql.is_specified_directive(directive):
            missing += [] if directive.description else [f"@{directive.name}"]
            missing += [
                f"@{directive.name}({n}:)" for n, a in directive.args.items() if not a.description
            ]
    return missing


def test_every_public_name_has_a_description() -> None:
    # given
    schema = build_schema()._schema

    # when
    undocumented = _undocumented(schema)

    # then
    assert undocumented == [], "describe these in kassa/schema: " + ", ".join(undocumented)


def test_datetime_is_rfc_3339_and_says_so() -> None:
    # given
    sdl = build_schema().as_str()

    # then
    assert (
        'scalar DateTime @specifiedBy(url: "https://datatracker.ietf.org/doc/html/rfc3339")' in sdl
    )


def test_datetime_without_an_offset_is_read_as_utc() -> None:
    # given
    parse = SCALARS[datetime].parse_value
    assert parse is not None

    # then: never the server's local time
    assert parse("2026-11-28T14:05:00") == datetime(2026, 11, 28, 14, 5, tzinfo=UTC)
    assert parse("2026-11-28T14:05:00+02:00") == datetime(2026, 11, 28, 12, 5, tzinfo=UTC)


def test_checkout_enums_are_null_for_a_value_kassa_does_not_know() -> None:
    # given: Stripe answers with a value added after kassa was written
    status = CheckoutStatus(
        session_id="cs_test_1", status="reopened", payment_status="paid", payment=None
    )

    # then: the string still carries it; the enum does not guess
    assert (status.session_status(), status.session_payment_status()) == (
        None,
        CheckoutPaymentStatus.PAID,
    )


def test_committed_schema_is_what_kassa_schema_prints() -> None:
    # given: the SDL a frontend repository runs codegen on without installing Python
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")

    # when
    printed = subprocess.run(
        [sys.executable, "-m", "kassa.cli", "schema"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
    ).stdout

    # then
    assert committed == printed, (
        "schema.graphql is out of date; regenerate it: .venv/bin/kassa schema > schema.graphql"
    )
