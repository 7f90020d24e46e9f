"""A hypothesis state machine over one organization's credits, on real PostgreSQL.

Steps: buy a package (its Stripe success event applied through the inbox), consume,
let time pass and expire, partial and full refunds made in Stripe's dashboard, a refund
Stripe reverses, and duplicate and out-of-order deliveries of events already seen. After
every step: Σ balances per unit = 0, every balance = its transfers, no lot below zero,
the organization's credits account = its lots' remaining less its debt, nothing expired
ever spent, refunded ≤ paid, and a consumption succeeds exactly when it is affordable.

Hypothesis state machines are synchronous, so each step runs its coroutine on the test
session's event loop (idle between tests), where kassa's server and worker live too.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from tortoise.transactions import in_transaction

from kassa.models import CreditLot, Organization, Payment, PaymentPurpose, StripeEventStatus
from kassa.services import clock, credit_lots, credits, stripe_events
from kassa.services.errors import DomainError, ErrorCode
from kassa.services.identity import Caller, OrgRole
from kassa.services.organizations import provision
from kassa.services.stripe_gateway import verify_webhook
from tests.conftest import WEBHOOK_SECRET
from tests.support import Kassa, assert_ledger_consistent, payment_intent_event, refund_object
from tests.support import stripe_event as make_event

T = TypeVar("T")
PACKAGES = [("trial", 500, 5000), ("standard", 1100, 10000), ("value", 6000, 50000)]
EXAMPLES = 50
STEPS = 30
_created = itertools.count(int(time.time()))


@pytest.fixture(scope="session")
async def session_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


class CreditMachine(RuleBasedStateMachine):
    paid = Bundle("paid")
    delivered = Bundle("delivered")
    loop: asyncio.AbstractEventLoop
    kassa: Kassa
    runs = 0
    steps = 0

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        CreditMachine.steps += 1
        return self.loop.run_until_complete(work)

    @initialize()
    def organization(self) -> None:
        clock.CLOCK.reset()
        CreditMachine.runs += 1
        self.org = self.run(provision(f"machine-{uuid.uuid4().hex[:12]}"))
        self.caller = Caller(
            user_id="machine", org_external_id=self.org.external_id, org_role=OrgRole.MEMBER
        )
        self.frozen_consumption: dict[uuid.UUID, int] = {}

    def teardown(self) -> None:
        clock.CLOCK.reset()

    async def _deliver(self, payload: str) -> str:
        """Through kassa's own verification, inbox and processing, as the worker does."""
        event = verify_webhook(payload.encode(), self.kassa.sign(payload), [WEBHOOK_SECRET])
        await stripe_events.receive(event, payload, {}, stripe_events.Expectations(False, None))
        processed = await stripe_events.process(event.id, 12)
        assert processed.status is StripeEventStatus.PROCESSED, processed
        return payload

    @rule(target=paid, package=st.sampled_from(PACKAGES), twice=st.booleans())
    def buy(self, package: tuple[str, int, int], twice: bool) -> Payment:
        code, credit_count, price = package
        intent_id = f"pi_machine_{uuid.uuid4().hex[:16]}"

        async def work() -> Payment:
            payment = await Payment.create(
                organization=self.org,
                purpose=PaymentPurpose.CREDIT_PACKAGE,
                amount=price,
                currency="cny",
                credit_package_code=code,
                credits=credit_count,
                credit_expiry_days=182,
                stripe_payment_intent_id=intent_id,
            )
            created = next(_created)
            processing = payment_intent_event(
                "payment_intent.processing",
                intent_id,
                amount=price,
                currency="cny",
                status="processing",
                created=created,
            )
            succeeded = payment_intent_event(
                "payment_intent.succeeded",
                intent_id,
                amount=price,
                currency="cny",
                status="succeeded",
                created=next(_created),
            )
            await self._deliver(succeeded)
            if twice:
                await self._deliver(succeeded)
            # Stripe's earlier event, delivered late: must not undo the success.
            await self._deliver(processing)
            return payment

        return self.run(work())

    @rule(credits_wanted=st.integers(1, 1500))
    def consume(self, credits_wanted: int) -> None:
        async def work() -> None:
            before = await credits.spendable(self.org)
            request = credits.ConsumeCredits(
                self.org.id, credits_wanted, "machine step", uuid.uuid4().hex
            )
            try:
                consumed = await credits.consume_credits(self.caller, request)
            except DomainError as exc:
                assert exc.code is ErrorCode.INSUFFICIENT_CREDITS
                assert credits_wanted > before
                assert await credits.spendable(self.org) == before
                return
            assert credits_wanted <= before
            assert consumed.balance == before - credits_wanted

        self.run(work())

    @rule(days=st.integers(1, 200), run_expiry=st.booleans())
    def time_passes(self, days: int, run_expiry: bool) -> None:
        clock.CLOCK.travel(timedelta(days=days))
        if run_expiry:
            self.run(credits.expire_due(clock.now()))

    @rule(target=delivered, payment=paid, share=st.integers(1, 100))
    def refund_in_dashboard(self, payment: Payment, share: int) -> str:
        async def work() -> str:
            await payment.refresh_from_db()
            left = payment.amount - payment.amount_refunded
            if left <= 0:
                return ""
            amount = max(1, left * share // 100)
            refund = refund_object(
                intent_id=payment.stripe_payment_intent_id or "",
                charge_id=None,
                amount=amount,
                currency="cny",
                status="succeeded",
            )
            return await self._deliver(make_event("refund.created", refund, next(_created)))

        return self.run(work())

    @rule(event=consumes(delivered))
    def stripe_reverses_the_refund(self, event: str) -> None:
        if not event:
            return
        refund = json.loads(event)["data"]["object"]
        refund["status"] = "failed"
        self.run(self._deliver(make_event("refund.updated", refund, next(_created))))

    @rule(event=delivered)
    def same_event_again(self, event: str) -> None:
        if event:
            self.run(self._deliver(event))

    @invariant()
    def books_balance(self) -> None:
        self.run(assert_ledger_consistent())

    @invariant()
    def lots_agree_with_the_ledger(self) -> None:
        async def work() -> None:
            # Under the credit lock: kassa's worker may be expiring lots meanwhile, and the
            # three reads must see the same moment.
            async with in_transaction() as conn:
                await credit_lots.lock_credits(conn, self.org.id)
                lots = await CreditLot.filter(organization=self.org).using_db(conn)
                organization = await Organization.filter(id=self.org.id).using_db(conn).get()
                rows = await conn.execute_query_dict(
                    "SELECT balance FROM ledger_accounts WHERE key = $1",
                    [credit_lots.credits_account(self.org.id).key],
                )
            ledger_balance = int(rows[0]["balance"]) if rows else 0
            assert ledger_balance == sum(lot.remaining for lot in lots) - organization.credit_debt
            now = clock.now()
            for lot in lots:
                assert min(lot.remaining, lot.consumed, lot.expired, lot.clawback_taken) >= 0
                assert lot.clawback_taken <= lot.credits
                if lot.expires_at <= now:
                    frozen = self.frozen_consumption.setdefault(lot.id, lot.consumed)
                    assert lot.consumed == frozen, f"lot {lot.id} spent after it expired"
            for payment in await Payment.filter(organization=self.org):
                assert 0 <= payment.amount_refunded <= payment.amount

        self.run(work())


def test_credit_ledger_state_machine(kassa: Kassa, session_loop: asyncio.AbstractEventLoop) -> None:
    CreditMachine.loop = session_loop
    CreditMachine.kassa = kassa
    started = time.monotonic()
    run_state_machine_as_test(
        CreditMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            # No shrinking: kassa's own worker expires lots concurrently, so a failing run
            # does not replay step for step; the unshrunk steps are printed instead.
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    print(
        f"credit state machine: {CreditMachine.runs} examples, {CreditMachine.steps} "
        f"steps and invariant checks, {time.monotonic() - started:.1f} s"
    )
