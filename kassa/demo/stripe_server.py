"""Entry point of the local Stripe-compatible server child process (demo and tests only).

localstripe is GPL and a development tool: it is only ever run as this separate process,
never imported by kassa's service code. Its stock command listens on every interface and
keeps its state in /tmp; here it listens on 127.0.0.1 only, keeps state in memory (or in
`--state FILE`, the demo's data dir, so a restart finds every object again), takes
`--port` when it is free (else any port), prints the port it got as its first line, and
stops on SIGTERM or after `--ttl` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import pickle
import signal
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiohttp import web


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ttl", type=float, default=24 * 3600.0)
    parser.add_argument("--port", type=int, default=0, help="wanted port, if free")
    parser.add_argument("--state", type=Path, default=None, help="keep objects in this file")
    parser.add_argument("--api-version", default=None, help="the version events are written in")
    args = parser.parse_args()

    _keep_state(args.state)
    import localstripe.resources

    from kassa.demo import intents, local_events, renewals, subscriptions

    local_events.install()
    intents.install()
    subscriptions.install()
    renewals.install()
    # After install: unpickling the Checkout Sessions imports localstripe's server.
    localstripe.resources.store.try_load_from_disk()
    if args.api_version:
        local_events.stamp_api_version(args.api_version)
    import localstripe.server
    from aiohttp import web

    _add_checkout(localstripe.server.app)
    local_events.add_routes(localstripe.server.app)
    renewals.add_routes(localstripe.server.app)
    local_events.listen_to_kept_endpoints()

    sock = _listening_socket(args.port)
    print(sock.getsockname()[1], flush=True)

    access = logging.getLogger("aiohttp.access")
    access.setLevel(logging.WARNING)
    access.addHandler(logging.StreamHandler(sys.stderr))
    loop = asyncio.new_event_loop()
    # A safety net: an orphaned server stops by itself.
    loop.call_later(args.ttl, os.kill, os.getpid(), signal.SIGTERM)
    web.run_app(
        localstripe.server.app,
        sock=sock,
        print=None,
        access_log=access,
        shutdown_timeout=2.0,
        loop=loop,
    )


def _keep_state(path: Path | None) -> None:
    """localstripe writes its whole store after every change; into `path` (written whole
    and renamed, so a crash never leaves half a file), or nowhere."""
    import localstripe.resources

    store_class: Any = localstripe.resources.Store
    if path is None:
        store_class.dump_to_disk = lambda self: None
        store_class.try_load_from_disk = lambda self: None
        return

    def dump(store: dict[str, Any]) -> None:
        partial = path.with_suffix(".partial")
        # Client secrets live in it: readable by the data dir's owner only.
        with os.fdopen(
            os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb"
        ) as handle:
            pickle.dump(dict(store), handle, protocol=pickle.HIGHEST_PROTOCOL)
        partial.replace(path)

    def load(store: dict[str, Any]) -> None:
        if path.exists():
            with path.open("rb") as handle:
                dict.update(store, pickle.load(handle))

    store_class.dump_to_disk = dump
    store_class.try_load_from_disk = load


def _listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.bind(("127.0.0.1", 0))  # taken: any port, the caller learns which
    return sock


def _add_checkout(app: web.Application) -> None:
    """Stripe Checkout, which localstripe lacks: its API and its hosted page."""
    import localstripe.server

    from kassa.demo import checkout_sessions, hosted_checkout

    auth = app.middlewares.index(localstripe.server.auth_middleware)
    app.middlewares[auth] = hosted_checkout.public_pages(localstripe.server.auth_middleware)
    checkout_sessions.add_routes(app)
    hosted_checkout.add_routes(app)


if __name__ == "__main__":
    main()
