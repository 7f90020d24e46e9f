"""organization.paymentStats as an owner looks at the month."""

from __future__ import annotations

from kassa.services.identity import OrgRole
from tests.e2e.test_refunds import _refund
from tests.support import JSON, Kassa, Member

STATS = """
query Stats($org: ID!, $from: DateTime, $to: DateTime) {
  organization(id: $org) {
    paymentStats(from: $from, to: $to) {
      from to
      byStatus { status currency count volume { amount } }
      byDay { day status currency count volume { amount } }
      currencies {
        currency succeededCount volume { amount } refunded { amount }
        refundRate averagePayment { amount }
      }
    }
  }
}
"""


async def _stats(kassa: Kassa, member: Member, token: str | None = None, **span: str) -> JSON:
    return await kassa.gql(STATS, {"org": member.organization_id, **span}, token or member.token)


async def test_counts_volume_refund_rate_and_average(kassa: Kassa) -> None:
    # given: 10.00 and 30.00 paid, 4.00 of the 10.00 refunded, 5.00 still open
    member = await kassa.member()
    first = await kassa.top_up(member, "10.00", paymentMethodId="pm_card_visa")
    await kassa.top_up(member, "30.00", paymentMethodId="pm_card_visa")
    await kassa.top_up(member, "5.00")
    await _refund(kassa, member.token, first["payment"]["id"], amount="4.00")

    # when
    body = await _stats(kassa, member)

    # then
    stats = body["data"]["organization"]["paymentStats"]
    assert {(s["status"], s["count"], s["volume"]["amount"]) for s in stats["byStatus"]} == {
        ("SUCCEEDED", 2, "40.00"),
        ("REQUIRES_PAYMENT_METHOD", 1, "5.00"),
    }
    assert stats["currencies"] == [
        {
            "currency": "usd",
            "succeededCount": 2,
            "volume": {"amount": "40.00"},
            "refunded": {"amount": "4.00"},
            "refundRate": "0.1000",
            "averagePayment": {"amount": "20.00"},
        }
    ]
    assert sum(day["count"] for day in stats["byDay"]) == 3


async def test_members_and_bad_periods_are_refused(kassa: Kassa) -> None:
    owner = await kassa.member(OrgRole.OWNER)
    member_token = kassa.token(owner.external_id, OrgRole.MEMBER, sub="intern")

    as_member = await _stats(kassa, owner, member_token)
    backwards = await _stats(
        kassa, owner, **{"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    )
    too_long = await _stats(
        kassa, owner, **{"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    )

    assert as_member["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert backwards["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert too_long["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_periods_at_the_ends_of_the_calendar_are_answered(kassa: Kassa) -> None:
    owner = await kassa.member(OrgRole.OWNER)

    # from defaults to 30 days before to: clamped to the calendar's first instant
    early_end = await _stats(kassa, owner, to="0001-01-05T00:00:00Z")
    # before 0001-01-01 or after 9999-12-31 once in UTC
    unconvertible = [
        await _stats(kassa, owner, **span)
        for span in (
            {"from": "0001-01-01T00:00:00+14:00", "to": "0001-01-05T00:00:00Z"},
            {"from": "9999-12-31T23:00:00-12:00"},
            {"from": "9999-12-30T00:00:00Z", "to": "9999-12-31T23:00:00-12:00"},
        )
    ]

    stats = early_end["data"]["organization"]["paymentStats"]
    assert (stats["from"], stats["to"]) == (
        "0001-01-01T00:00:00+00:00",
        "0001-01-05T00:00:00+00:00",
    )
    assert stats["byStatus"] == []
    assert [
        (body["errors"][0]["extensions"], body["errors"][0]["message"]) for body in unconvertible
    ] == [
        (
            {"code": "INVALID_INPUT", "field": field},
            f"{field} is outside the years 1 to 9999 in UTC",
        )
        for field in ("from", "from", "to")
    ]
