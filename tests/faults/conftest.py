"""Fault tests: real `kassa serve` and `kassa worker` processes on a PostgreSQL of their own
that the tests stop, start and restart."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.cluster import Cluster, new_database, remove_database
from tests.faults.postgres import Postgres, separate_postgres


@pytest.fixture(scope="session")
def fault_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    with separate_postgres(tmp_path_factory.mktemp("fault-pg")) as postgres:
        yield postgres


@pytest.fixture
async def cluster(fault_postgres: Postgres, tmp_path: Path) -> AsyncIterator[Cluster]:
    fault_postgres.start()
    cluster = Cluster(await new_database(fault_postgres.url), logs=tmp_path)
    try:
        yield cluster
    finally:
        # A test that failed while the database was down must not leave it down.
        fault_postgres.start()
        cluster.stop()
        await remove_database(cluster.database_url)
