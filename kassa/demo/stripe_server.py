"""Entry point of the local Stripe-compatible server child process (demo and tests only).

localstripe is GPL and a development tool: it is only ever run as this separate process,
never imported by kassa's service code. Its stock command listens on every interface and
keeps its state in /tmp; here it listens on 127.0.0.1 only, keeps state in memory, prints
the port it got as its first line, and stops on SIGTERM or after `--ttl` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ttl", type=float, default=24 * 3600.0)
    args = parser.parse_args()

    import localstripe.resources

    # In memory only: no state file shared between runs or users.
    localstripe.resources.Store.dump_to_disk = lambda self: None
    localstripe.resources.Store.try_load_from_disk = lambda self: None
    from kassa.demo import intents

    intents.install()
    import localstripe.server
    from aiohttp import web

    _add_checkout(localstripe.server.app)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
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
