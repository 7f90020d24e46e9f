"""The migrations in the tree match the models, and `kassa serve` guards against drift."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

from tortoise.migrations.autodetector import MigrationAutodetector

from kassa.db import (
    drop_database,
    ensure_database,
    known_migrations,
    pending_migrations,
    tortoise_config,
    with_database,
)
from tests.support import Kassa


async def test_models_have_no_changes_missing_a_migration(kassa: Kassa) -> None:
    from tortoise import Tortoise

    apps_config = tortoise_config("postgresql://unused/kassa")["apps"]
    assert Tortoise.apps is not None
    writers = await MigrationAutodetector(Tortoise.apps, apps_config).changes()

    assert [writer.name for writer in writers] == [], "run `kassa makemigrations`"


async def test_fresh_database_has_every_migration_pending(database_server_url: str) -> None:
    url = with_database(database_server_url, f"kassa_fresh_{uuid.uuid4().hex[:8]}")
    await ensure_database(url)
    try:
        assert await pending_migrations(url) == [*known_migrations(), "job queue"]
    finally:
        await drop_database(url)


async def test_serve_refuses_to_start_with_pending_migrations(
    kassa: Kassa, database_server_url: str
) -> None:
    # given: an empty database named by DATABASE_URL
    url = with_database(database_server_url, f"kassa_pending_{uuid.uuid4().hex[:8]}")
    await ensure_database(url)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "KASSA_JWT_SECRET": kassa.settings.jwt_secret or "",
        "STRIPE_SECRET_KEY": "sk_test_kassa",
    }

    # when
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kassa.cli", "serve", env=env, stderr=asyncio.subprocess.PIPE
        )
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        await drop_database(url)

    # then
    assert process.returncode == 2
    assert "run `kassa migrate` first" in stderr.decode()
    assert "0001_initial" in stderr.decode()
