"""The double-entry ledger: every movement is one transfer, applied atomically and once.

Balances are cached on the account rows and changed only by `UPDATE ... SET balance =
balance + $1` inside the transfer's transaction, so concurrent transfers never lose money
to a read-then-write race; the unique idempotency key makes a repeated transfer a no-op.

System accounts (those of no organization: stripe_clearing, wallet_spend, credits_*) are
touched by every organization's movements. Each is split into SYSTEM_SHARDS rows, `<key>`
and `<key>#1` … `<key>#15`; a transfer posts to the shard its task uses (one per task, so a
transaction never locks two shards of one account), and `system_balance` sums them. Two
workers then rarely wait for each other on one row, and every invariant (Σ balances per
unit = 0, each row = Σ of its transfers) holds row by row as before.

A batch of Stripe events defers its balance moves (`deferring_balances`): each transfer row
is written at once (its idempotency key decides then), and the moves are applied at the
end of the batch, every touched account locked in id order in one statement. A worker
then holds an organization's wallet and a clearing row for the length of that statement,
not of the whole batch, and two batches never lock accounts in opposite orders.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from kassa.models import AccountKind, LedgerAccount, LedgerTransfer, TransferKind
from kassa.services.errors import check_same_request
from kassa.services.pagination import Page, paginate


@dataclass(frozen=True, slots=True)
class AccountRef:
    """An account by its key; created on first use."""

    key: str
    kind: AccountKind
    unit: str
    organization_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class TransferResult:
    transfer_id: uuid.UUID
    created: bool


def wallet_account(organization_id: uuid.UUID, currency: str) -> AccountRef:
    return AccountRef(
        f"{AccountKind.WALLET}:{currency}@{organization_id}",
        AccountKind.WALLET,
        currency,
        organization_id,
    )


def sales_account(organization_id: uuid.UUID, currency: str) -> AccountRef:
    return AccountRef(
        f"{AccountKind.SALES}:{currency}@{organization_id}",
        AccountKind.SALES,
        currency,
        organization_id,
    )


def wallet_spend_account(currency: str) -> AccountRef:
    """Where debited wallet money goes: what host apps sold from wallets, per currency."""
    return AccountRef(f"{AccountKind.WALLET_SPEND}:{currency}", AccountKind.WALLET_SPEND, currency)


def stripe_clearing_account(currency: str) -> AccountRef:
    return AccountRef(
        f"{AccountKind.STRIPE_CLEARING}:{currency}", AccountKind.STRIPE_CLEARING, currency
    )


SYSTEM_SHARDS = 16
SHARD_SEPARATOR = "#"
_system_shard: ContextVar[int | None] = ContextVar("ledger_system_shard", default=None)


def use_system_shard(shard: int) -> None:
    """The shard of system accounts this task (and the tasks it starts) posts to."""
    _system_shard.set(shard % SYSTEM_SHARDS)


def posting_account(account: AccountRef) -> AccountRef:
    """The row a transfer touches: an organization's account itself, or this task's shard
    of a system account (picked at random on first use)."""
    if account.organization_id is not None:
        return account
    shard = _system_shard.get()
    if shard is None:
        shard = random.randrange(SYSTEM_SHARDS)
        _system_shard.set(shard)
    if shard == 0:  # the row from before the split keeps its key
        return account
    return replace(account, key=f"{account.key}{SHARD_SEPARATOR}{shard}")


async def system_balance(conn: BaseDBAsyncClient, account: AccountRef) -> int:
    """A system account's balance: the sum of its shards."""
    rows = await conn.execute_query_dict(
        "SELECT coalesce(sum(balance), 0) AS balance FROM ledger_accounts "
        "WHERE key = $1 OR starts_with(key, $1 || $2)",
        [account.key, SHARD_SEPARATOR],
    )
    return int(rows[0]["balance"])


async def account_id(conn: BaseDBAsyncClient, account: AccountRef) -> int:
    # Read first: an INSERT ... ON CONFLICT on an existing key waits for whichever
    # transaction last updated that row, which would serialize every transfer touching a
    # busy account (stripe_clearing) for the whole of that transaction.
    found = await _account_id(conn, account.key)
    if found is not None:
        return found
    await conn.execute_query(
        "INSERT INTO ledger_accounts (key, organization_id, kind, unit, balance, created_at) "
        "VALUES ($1, $2, $3, $4, 0, now()) ON CONFLICT (key) DO NOTHING",
        [account.key, account.organization_id, account.kind.value, account.unit],
    )
    created = await _account_id(conn, account.key)
    if created is None:
        raise RuntimeError(f"ledger account {account.key} could not be created")
    return created


async def _account_ids(
    conn: BaseDBAsyncClient, debit: AccountRef, credit: AccountRef
) -> tuple[int, int]:
    """Both accounts' ids in one round trip once they exist (nearly always)."""
    rows = await conn.execute_query_dict(
        "SELECT id, key FROM ledger_accounts WHERE key = ANY($1::text[])", [[debit.key, credit.key]]
    )
    found = {row["key"]: int(row["id"]) for row in rows}
    debit_id = found.get(debit.key) or await account_id(conn, debit)
    credit_id = found.get(credit.key) or await account_id(conn, credit)
    return debit_id, credit_id


async def _account_id(conn: BaseDBAsyncClient, key: str) -> int | None:
    rows = await conn.execute_query_dict("SELECT id FROM ledger_accounts WHERE key = $1", [key])
    return int(rows[0]["id"]) if rows else None


@dataclass(frozen=True, slots=True)
class Transfer:
    debit: AccountRef
    credit: AccountRef
    amount: int
    kind: TransferKind
    idempotency_key: str
    payment_id: uuid.UUID | None = None
    reason: str | None = None


async def post_transfer(conn: BaseDBAsyncClient, transfer: Transfer) -> TransferResult:
    """Apply `transfer` within the caller's transaction, exactly once per idempotency key."""
    if transfer.amount <= 0:
        raise ValueError("a transfer moves a positive amount")
    if transfer.debit.unit != transfer.credit.unit:
        raise ValueError("a transfer moves one unit between accounts of that unit")
    debit, credit = posting_account(transfer.debit), posting_account(transfer.credit)
    debit_id, credit_id = await _account_ids(conn, debit, credit)
    transfer_id = uuid.uuid4()
    deferred = _deferred.get()
    if deferred is not None:
        return await _post_deferred(conn, deferred, transfer, transfer_id, debit_id, credit_id)
    # execute_query_dict, not execute_query: tortoise drops the rows of an INSERT/UPDATE
    # ... RETURNING sent through execute_query.
    moved = await conn.execute_query_dict(
        TRANSFER,
        _transfer_row(transfer, transfer_id, debit_id, credit_id),
    )
    if not moved:
        return TransferResult(await _existing_transfer(conn, transfer.idempotency_key), False)
    return TransferResult(transfer_id, True)


# One round trip: lock both accounts in id order (two transfers over the same pair never
# deadlock), write the transfer with the balances after it unless its key exists already,
# and move the balances only if it was written.
TRANSFER = (
    "WITH locked AS (SELECT id, balance FROM ledger_accounts WHERE id IN ($2::bigint, $3::bigint) "
    "ORDER BY id FOR NO KEY UPDATE), "
    "inserted AS (INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, "
    "unit, kind, payment_id, idempotency_key, debit_balance_after, credit_balance_after, "
    "reason, created_at) SELECT $1::uuid, $2::bigint, $3::bigint, $4::bigint, $5::text, $6::text, "
    "$7::uuid, $8::text, (SELECT balance FROM locked WHERE id = $2::bigint) - $4::bigint, "
    "(SELECT balance FROM locked WHERE id = $3::bigint) + $4::bigint, $9::text, now() "
    "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id) "
    "UPDATE ledger_accounts a SET balance = a.balance + "
    "CASE WHEN a.id = $2::bigint THEN -$4::bigint ELSE $4::bigint END "
    "FROM inserted WHERE a.id IN ($2::bigint, $3::bigint) RETURNING a.id"
)


@dataclass(frozen=True, slots=True)
class _Move:
    transfer_id: uuid.UUID
    debit_id: int
    credit_id: int
    amount: int


@dataclass(slots=True)
class DeferredBalances:
    """The balance moves of transfers written but not yet applied, in posting order."""

    moves: list[_Move] = field(default_factory=list)

    def mark(self) -> int:
        return len(self.moves)

    def roll_back_to(self, mark: int) -> None:
        """Forget the moves since `mark` (their transfers were rolled back to a savepoint)."""
        del self.moves[mark:]

    async def apply(self, conn: BaseDBAsyncClient) -> None:
        """Lock every touched account in id order, move the balances by their totals and
        give each transfer the balances after it, as if applied one by one in order."""
        if not self.moves:
            return
        ids = sorted(
            {move.debit_id for move in self.moves} | {move.credit_id for move in self.moves}
        )
        rows = await conn.execute_query_dict(
            "SELECT id, balance FROM ledger_accounts WHERE id = ANY($1::bigint[]) "
            "ORDER BY id FOR NO KEY UPDATE",
            [ids],
        )
        balances = {int(row["id"]): int(row["balance"]) for row in rows}
        totals = dict.fromkeys(ids, 0)
        after: list[tuple[uuid.UUID, int, int]] = []
        for move in self.moves:
            balances[move.debit_id] -= move.amount
            balances[move.credit_id] += move.amount
            totals[move.debit_id] -= move.amount
            totals[move.credit_id] += move.amount
            after.append((move.transfer_id, balances[move.debit_id], balances[move.credit_id]))
        transfer_ids, debit_after, credit_after = (
            list(column) for column in zip(*after, strict=True)
        )
        await conn.execute_query_dict(
            APPLY_MOVES,
            [ids, [totals[account] for account in ids], transfer_ids, debit_after, credit_after],
        )
        self.moves.clear()


APPLY_MOVES = (
    "WITH moved AS (UPDATE ledger_accounts a SET balance = a.balance + m.total "
    "FROM unnest($1::bigint[], $2::bigint[]) AS m(id, total) WHERE a.id = m.id RETURNING a.id) "
    "UPDATE ledger_transfers t SET debit_balance_after = m.debit_after, "
    "credit_balance_after = m.credit_after "
    "FROM unnest($3::uuid[], $4::bigint[], $5::bigint[]) AS m(id, debit_after, credit_after) "
    "WHERE t.id = m.id AND (SELECT count(*) FROM moved) > 0"
)
_deferred: ContextVar[DeferredBalances | None] = ContextVar("ledger_deferred", default=None)


@contextmanager
def deferring_balances() -> Iterator[DeferredBalances]:
    """Transfers posted inside (in this task) move no balance until `apply`."""
    deferred = DeferredBalances()
    token = _deferred.set(deferred)
    try:
        yield deferred
    finally:
        _deferred.reset(token)


async def apply_deferred(conn: BaseDBAsyncClient) -> None:
    """Before reading a balance inside a batch: apply what it has deferred so far."""
    deferred = _deferred.get()
    if deferred is not None:
        await deferred.apply(conn)


async def _post_deferred(
    conn: BaseDBAsyncClient,
    deferred: DeferredBalances,
    transfer: Transfer,
    transfer_id: uuid.UUID,
    debit_id: int,
    credit_id: int,
) -> TransferResult:
    inserted = await conn.execute_query_dict(
        "INSERT INTO ledger_transfers (id, debit_account_id, credit_account_id, amount, unit, "
        "kind, payment_id, idempotency_key, debit_balance_after, credit_balance_after, reason, "
        "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0, $9, now()) "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        _transfer_row(transfer, transfer_id, debit_id, credit_id),
    )
    if not inserted:
        return TransferResult(await _existing_transfer(conn, transfer.idempotency_key), False)
    deferred.moves.append(_Move(transfer_id, debit_id, credit_id, transfer.amount))
    return TransferResult(transfer_id, True)


def _transfer_row(
    transfer: Transfer, transfer_id: uuid.UUID, debit_id: int, credit_id: int
) -> list[object]:
    """The values of a transfer's row, in the order both INSERTs name its columns."""
    return [
        transfer_id,
        debit_id,
        credit_id,
        transfer.amount,
        transfer.debit.unit,
        transfer.kind.value,
        transfer.payment_id,
        transfer.idempotency_key,
        transfer.reason,
    ]


async def _existing_transfer(conn: BaseDBAsyncClient, idempotency_key: str) -> uuid.UUID:
    _, rows = await conn.execute_query(
        "SELECT id FROM ledger_transfers WHERE idempotency_key = $1", [idempotency_key]
    )
    return uuid.UUID(str(rows[0]["id"]))


async def history(
    account: AccountRef, first: int | None, after: str | None
) -> tuple[int, Page[LedgerTransfer]]:
    """A page of the transfers in or out of `account`, newest first, with the account's
    id (to tell in from out); an empty page for an account never used."""
    found = await LedgerAccount.get_or_none(key=account.key)
    if found is None:
        return 0, Page([], False)
    transfers = LedgerTransfer.filter(Q(debit_account_id=found.id) | Q(credit_account_id=found.id))
    return found.id, await paginate(transfers, first, after)


def client_key(scope: str, action: str, idempotency_key: str) -> str:
    """The ledger key of a client's request within `scope`, its own key hashed (a client's
    key may be as long as the ledger's whole key column)."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
    return f"{scope}:{action}:{digest}"


def wallets_scope(organization_id: uuid.UUID) -> str:
    """All of an organization's wallets: a client's key names one request whatever its
    currency."""
    return f"{AccountKind.WALLET}@{organization_id}"


async def repeated(
    conn: BaseDBAsyncClient, key: str, amount: int, unit: str, reason: str | None, what: str
) -> LedgerTransfer | None:
    """The transfer an earlier request under `key` made, if any; IDEMPOTENCY_KEY_REUSED when
    that request was for another amount, unit or reason."""
    earlier = await LedgerTransfer.filter(idempotency_key=key).using_db(conn).first()
    if earlier is not None:
        check_same_request(
            f"{earlier.amount}|{earlier.unit}|{earlier.reason}", f"{amount}|{unit}|{reason}", what
        )
    return earlier


def as_seen_by(row: LedgerTransfer, account_id: int) -> tuple[int, int]:
    """A transfer's amount, negative when it left the account, and the account's balance
    after it."""
    if row.credit_account_id == account_id:  # type: ignore[attr-defined]
        return row.amount, row.credit_balance_after
    return -row.amount, row.debit_balance_after
