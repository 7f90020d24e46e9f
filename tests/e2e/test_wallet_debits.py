"""debitWallet: host apps take money out of a wallet, never below zero, once per key."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from kassa.models import Organization, Payment, Refund
from kassa.services import api_keys
from kassa.services.identity import OrgRole
from tests.support import JSON, Kassa, Member, assert_ledger_consistent

DEBIT = """
mutation Debit($input: DebitWalletInput!) {
  debitWallet(input: $input) {
    __typename
    ... on WalletDebited {
      transaction { id kind reason amount { amount } balanceAfter { amount } }
    }
    ... on UserError { code message field }
  }
}
"""


async def _debit(kassa: Kassa, member: Member, amount: str, key: str, **extra: Any) -> JSON:
    token = extra.pop("token", member.token)
    variables = {
        "input": {
            "organizationId": member.organization_id,
            "amount": amount,
            "currency": "usd",
            "reason": extra.pop("reason", "ticket #4711"),
            "idempotencyKey": key,
            **extra,
        }
    }
    body = await kassa.gql(DEBIT, variables, token)
    assert "errors" not in body, body
    result: JSON = body["data"]["debitWallet"]
    return result


async def _funded(kassa: Kassa, amount: str) -> Member:
    member = await kassa.member()
    topped = await kassa.top_up(member, amount, paymentMethodId="pm_card_visa")
    assert topped["payment"]["status"] == "SUCCEEDED", topped
    return member


async def test_a_debit_moves_money_once_per_key(kassa: Kassa) -> None:
    member = await _funded(kassa, "20.00")

    first = await _debit(kassa, member, "7.50", "order-1")
    again = await _debit(kassa, member, "7.50", "order-1")
    changed = await _debit(kassa, member, "7.51", "order-1")

    assert first["transaction"]["kind"] == "DEBIT"
    assert first["transaction"]["reason"] == "ticket #4711"
    assert first["transaction"]["amount"] == {"amount": "-7.50"}
    assert first["transaction"]["balanceAfter"] == {"amount": "12.50"}
    assert again == first
    assert (changed["code"], changed["field"]) == ("IDEMPOTENCY_KEY_REUSED", "idempotencyKey")
    assert (await kassa.wallet(member))["balance"]["amount"] == "12.50"
    await assert_ledger_consistent()


async def test_more_than_the_wallet_holds_is_refused_and_changes_nothing(kassa: Kassa) -> None:
    member = await _funded(kassa, "5.00")

    refused = await _debit(kassa, member, "5.01", "too-much")
    bad_amount = await _debit(kassa, member, "1.001", "odd")

    assert (refused["code"], refused["field"]) == ("INSUFFICIENT_BALANCE", "amount")
    assert "5.00 USD" in refused["message"]
    assert (bad_amount["code"], bad_amount["field"]) == ("INVALID_AMOUNT", "amount")
    assert (await kassa.wallet(member))["balance"]["amount"] == "5.00"


async def test_concurrent_debits_never_overdraw(kassa: Kassa) -> None:
    member = await _funded(kassa, "10.00")

    results = await asyncio.gather(
        *(_debit(kassa, member, "1.50", f"burst-{n}") for n in range(10))
    )

    done = [r for r in results if r["__typename"] == "WalletDebited"]
    assert len(done) == 6
    assert {r["code"] for r in results if r["__typename"] == "UserError"} == {
        "INSUFFICIENT_BALANCE"
    }
    assert (await kassa.wallet(member))["balance"]["amount"] == "1.00"
    await assert_ledger_consistent()


async def test_an_api_key_debits_its_own_organization_only(kassa: Kassa) -> None:
    member = await _funded(kassa, "3.00")
    other = await _funded(kassa, "3.00")
    made = await api_keys.create(member.external_id, "shop", OrgRole.MEMBER)

    mine = await _debit(kassa, member, "1.00", "k1", token=made.secret)
    theirs = await _debit(kassa, other, "1.00", "k1", token=made.secret)

    assert mine["__typename"] == "WalletDebited"
    assert theirs["code"] == "NOT_FOUND"
    assert (await kassa.wallet(other))["balance"]["amount"] == "3.00"


async def test_a_top_up_refund_on_its_way_holds_its_money(kassa: Kassa) -> None:
    # given: 10.00 topped up, 8.00 of it being refunded (Stripe has not settled it yet)
    member = await _funded(kassa, "10.00")
    organization = await Organization.get(external_id=member.external_id)
    payment = await Payment.get(organization=organization)
    await Refund.create(payment=payment, amount=800, currency="usd", status="PENDING")

    # when
    refused = await _debit(kassa, member, "2.01", "during-refund")
    allowed = await _debit(kassa, member, "2.00", "what-is-left")

    # then
    assert (refused["code"], refused["field"]) == ("INSUFFICIENT_BALANCE", "amount")
    assert "can spend 2.00 USD" in refused["message"]
    assert allowed["__typename"] == "WalletDebited"


async def _funded_in(kassa: Kassa, member: Member, amount: str, currency: str) -> None:
    topped = await kassa.top_up(member, amount, currency, paymentMethodId="pm_card_visa")
    assert topped["payment"]["status"] == "SUCCEEDED", topped


async def test_one_key_is_one_debit_whatever_the_currency(kassa: Kassa) -> None:
    member = await _funded(kassa, "10.00")
    await _funded_in(kassa, member, "10.00", "eur")

    first = await _debit(kassa, member, "4.00", "order-9")
    in_euros = await _debit(kassa, member, "4.00", "order-9", currency="eur")
    again = await _debit(kassa, member, "4.00", "order-9")

    assert first["__typename"] == "WalletDebited"
    assert (in_euros["code"], in_euros["field"]) == ("IDEMPOTENCY_KEY_REUSED", "idempotencyKey")
    assert again == first
    assert (await kassa.wallet(member, "usd"))["balance"]["amount"] == "6.00"
    assert (await kassa.wallet(member, "eur"))["balance"]["amount"] == "10.00"
    await assert_ledger_consistent()


async def test_one_key_in_two_currencies_at_once_debits_once(kassa: Kassa) -> None:
    member = await _funded(kassa, "10.00")
    await _funded_in(kassa, member, "10.00", "eur")

    for round in range(5):
        results = await asyncio.gather(
            _debit(kassa, member, "1.00", f"race-{round}"),
            _debit(kassa, member, "1.00", f"race-{round}", currency="eur"),
        )
        kinds = sorted(result.get("code") or result["__typename"] for result in results)
        assert kinds == ["IDEMPOTENCY_KEY_REUSED", "WalletDebited"], results

    usd = (await kassa.wallet(member, "usd"))["balance"]["amount"]
    eur = (await kassa.wallet(member, "eur"))["balance"]["amount"]
    assert Decimal(usd) + Decimal(eur) == Decimal("15.00")
    await assert_ledger_consistent()
