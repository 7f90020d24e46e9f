"""Mutations counted per caller and per client address, in one-minute windows.

In memory for one process; in PostgreSQL (`rate_limit_windows`, one upsert per request)
when several kassa processes share the load, so a client cannot multiply its allowance
by the number of processes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from tortoise import connections

WINDOW = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Allowance:
    key: str
    per_minute: int


class RateLimiter(Protocol):
    async def hit(self, allowances: Sequence[Allowance], count: int = 1) -> int | None:
        """Count `count` requests against each allowance; seconds to wait when one is spent."""


def _window(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def _retry_after(window: datetime, now: datetime) -> int:
    return max(1, math.ceil((window + WINDOW - now).total_seconds()))


class MemoryRateLimiter:
    def __init__(self) -> None:
        self.window = _window(datetime.now(UTC))
        self.hits: dict[str, int] = {}

    async def hit(self, allowances: Sequence[Allowance], count: int = 1) -> int | None:
        now = datetime.now(UTC)
        if _window(now) != self.window:
            self.window, self.hits = _window(now), {}
        spent = False
        for allowance in allowances:
            self.hits[allowance.key] = self.hits.get(allowance.key, 0) + count
            spent |= self.hits[allowance.key] > allowance.per_minute
        return _retry_after(self.window, now) if spent else None


class PostgresRateLimiter:
    async def hit(self, allowances: Sequence[Allowance], count: int = 1) -> int | None:
        now = datetime.now(UTC)
        window = _window(now)
        rows = await connections.get("default").execute_query_dict(
            "INSERT INTO rate_limit_windows (key, window_start, hits) "
            "SELECT key, $2, $3 FROM unnest($1::text[]) AS key "
            "ON CONFLICT (key, window_start) DO UPDATE "
            "SET hits = rate_limit_windows.hits + $3 RETURNING key, hits",
            [[allowance.key for allowance in allowances], window, count],
        )
        hits = {row["key"]: int(row["hits"]) for row in rows}
        spent = any(hits.get(a.key, 0) > a.per_minute for a in allowances)
        return _retry_after(window, now) if spent else None


async def forget_old_windows() -> None:
    """Drop windows that ended (the worker's sweep calls this)."""
    await connections.get("default").execute_query(
        "DELETE FROM rate_limit_windows WHERE window_start < $1",
        [_window(datetime.now(UTC)) - WINDOW],
    )


def client_address(peer: str | None, forwarded_for: str | None, trusted_hops: int) -> str:
    """The client's address: the peer's, or behind `trusted_hops` proxies of one's own, the
    address they saw (read from the right of X-Forwarded-For; the left part is the
    client's to write and proves nothing)."""
    if trusted_hops > 0 and forwarded_for:
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        if len(hops) >= trusted_hops:
            return hops[-trusted_hops]
    return peer or "unknown"
