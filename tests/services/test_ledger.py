"""The ledger on real PostgreSQL: atomic, idempotent, balanced under concurrency."""

from __future__ import annotations

import asyncio
import uuid
from importlib import import_module

import pytest
from tortoise.exceptions import OperationalError
from tortoise.transactions import in_transaction

from kassa.models import LedgerAccount, LedgerTransfer, Organization, TransferKind
from kassa.services import ledger
from kassa.services.organizations import provision
from tests.support import Kassa, assert_ledger_consistent


async def _organization() -> Organization:
    return await provision(f"ledger-{uuid.uuid4().hex[:10]}")


def _top_up(organization: Organization, amount: int, key: str) -> ledger.Transfer:
    return ledger.Transfer(
        debit=ledger.stripe_clearing_account("eur"),
        credit=ledger.wallet_account(organization.id, "eur"),
        amount=amount,
        kind=TransferKind.TOP_UP,
        idempotency_key=key,
    )


async def _post(transfer: ledger.Transfer) -> ledger.TransferResult:
    async with in_transaction() as conn:
        return await ledger.post_transfer(conn, transfer)


async def test_concurrent_transfers_lose_nothing_and_apply_once(kassa: Kassa) -> None:
    # given: 40 distinct transfers, each sent three times, all at once
    organization = await _organization()
    keys = [f"test:{uuid.uuid4()}" for _ in range(40)]
    transfers = [_top_up(organization, 100 + i, key) for i, key in enumerate(keys)]

    # when
    results = await asyncio.gather(*(_post(t) for t in transfers * 3))

    # then
    assert sum(result.created for result in results) == 40
    wallet = await LedgerAccount.get(key=ledger.wallet_account(organization.id, "eur").key)
    assert wallet.balance == sum(100 + i for i in range(40))
    assert await LedgerTransfer.filter(idempotency_key__in=keys).count() == 40
    await assert_ledger_consistent()


async def test_each_transfer_records_the_balances_after_it(kassa: Kassa) -> None:
    organization = await _organization()
    for amount in (500, 250):
        await _post(_top_up(organization, amount, f"test:{uuid.uuid4()}"))

    wallet = await LedgerAccount.get(key=ledger.wallet_account(organization.id, "eur").key)
    rows = await LedgerTransfer.filter(credit_account_id=wallet.id).order_by("created_at")

    assert [row.credit_balance_after for row in rows] == [500, 750]


async def test_a_transfer_rolls_back_with_its_transaction(kassa: Kassa) -> None:
    organization = await _organization()
    key = f"test:{uuid.uuid4()}"

    with pytest.raises(RuntimeError):
        async with in_transaction() as conn:
            await ledger.post_transfer(conn, _top_up(organization, 900, key))
            raise RuntimeError("the state change next to it failed")

    assert not await LedgerTransfer.exists(idempotency_key=key)
    assert not await LedgerAccount.filter(
        key=ledger.wallet_account(organization.id, "eur").key, balance__gt=0
    ).exists()


@pytest.mark.parametrize("amount", [0, -5])
async def test_non_positive_amounts_are_refused(kassa: Kassa, amount: int) -> None:
    organization = await _organization()
    with pytest.raises(ValueError, match="positive"):
        await _post(_top_up(organization, amount, f"test:{uuid.uuid4()}"))


@pytest.mark.parametrize(
    ("amount", "same_account", "constraint"),
    [
        (-1, False, "ledger_transfers_amount_positive"),
        (5, True, "ledger_transfers_distinct_accounts"),
    ],
)
async def test_database_refuses_an_impossible_transfer_row(
    kassa: Kassa, amount: int, same_account: bool, constraint: str
) -> None:
    # The CHECK constraints back the service's own checks against any other writer.
    organization = await _organization()
    async with in_transaction() as conn:
        wallet = await ledger.account_id(conn, ledger.wallet_account(organization.id, "eur"))
        clearing = await ledger.account_id(conn, ledger.stripe_clearing_account("eur"))
    with pytest.raises(OperationalError, match=constraint):
        async with in_transaction() as conn:
            await conn.execute_query(
                "INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, "
                "unit, kind, idempotency_key, debit_balance_after, credit_balance_after, "
                "created_at) VALUES ($1, $2, $3, $4, 'eur', 'TOP_UP', $5, 0, 0, now())",
                [
                    uuid.uuid4(),
                    wallet if same_account else clearing,
                    wallet,
                    amount,
                    f"test:{uuid.uuid4()}",
                ],
            )


async def test_debit_keys_from_before_one_key_per_organization_still_answer_retries(
    kassa: Kassa,
) -> None:
    # given: debits keyed per currency, as they were; one key used in two currencies
    organization = await _organization()
    digest, other = "a" * 64, "b" * 64
    posted = []
    for currency, key_digest in (("usd", digest), ("eur", digest), ("usd", other)):
        posted.append(
            await _post(
                ledger.Transfer(
                    debit=ledger.wallet_account(organization.id, currency),
                    credit=ledger.wallet_spend_account(currency),
                    amount=100,
                    kind=TransferKind.DEBIT,
                    idempotency_key=f"wallet:{currency}@{organization.id}:debit:{key_digest}",
                )
            )
        )

    # when
    (operation,) = import_module("kassa.migrations.0012_wallet_debit_keys").Migration.operations
    async with in_transaction() as conn:
        for statement in operation.sql:
            await conn.execute_script(statement)

    # then: each key names its first debit; a second use in another currency keeps its own
    scope = ledger.wallets_scope(organization.id)
    keys = {
        transfer.id: transfer.idempotency_key
        for transfer in await LedgerTransfer.filter(id__in=[p.transfer_id for p in posted])
    }
    assert [keys[p.transfer_id] for p in posted] == [
        f"{scope}:debit:{digest}",
        f"wallet:eur@{organization.id}:debit:{digest}",
        f"{scope}:debit:{other}",
    ]


async def test_system_accounts_are_split_into_shards_summed_when_read(kassa: Kassa) -> None:
    # given: top-ups posted from tasks on different shards of stripe_clearing:eur
    organization = await _organization()

    async def top_up_on(shard: int, amount: int) -> None:
        ledger.use_system_shard(shard)
        await _post(_top_up(organization, amount, f"test:{uuid.uuid4()}"))

    before = await _clearing_balance()
    await asyncio.gather(*(top_up_on(shard, 10 + shard) for shard in range(4)))

    # then: four rows took the four debits, their sum is the account's balance, and every
    # row equals the sum of its own transfers
    clearing = ledger.stripe_clearing_account("eur")
    shards = await LedgerAccount.filter(
        key__in=[clearing.key, *(f"{clearing.key}#{n}" for n in range(1, 4))]
    )
    assert len(shards) == 4
    assert await _clearing_balance() == before - sum(10 + shard for shard in range(4))
    wallet = await LedgerAccount.get(key=ledger.wallet_account(organization.id, "eur").key)
    assert wallet.balance == sum(10 + shard for shard in range(4))
    await assert_ledger_consistent()


async def _clearing_balance() -> int:
    async with in_transaction() as conn:
        return await ledger.system_balance(conn, ledger.stripe_clearing_account("eur"))
