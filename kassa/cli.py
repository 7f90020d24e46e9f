"""`kassa demo | serve | migrate | makemigrations | token | schema`."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta

import asyncpg
import uvicorn

from kassa.config import ConfigurationError, Environment, Settings
from kassa.db import apply_migrations, database_url, ensure_database, pending_migrations
from kassa.demo.state import beside_demo
from kassa.ids import IdKind, kind_of
from kassa.models.stripe_event import StripeEventStatus
from kassa.secrets import dev_token, require_jwt_secret, with_dev_jwt_secret
from kassa.services.api_keys import ROLES as API_KEY_ROLES
from kassa.services.identity import OrgRole
from kassa.services.runtime import Runtime

Command = Callable[[argparse.Namespace, Settings], int]


def main(argv: Sequence[str] | None = None) -> None:
    # uvicorn re-raises the SIGTERM it caught once it has shut down; turning it into an
    # exception lets the embedded database and the local Stripe server stop cleanly too.
    signal.signal(signal.SIGTERM, _terminate)
    # kassa's own INFO lines (mail logged without SMTP_HOST, reconciliation reports) show.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("kassa").setLevel(logging.INFO)
    parser = _parser()
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command is not _demo:
        # Beside a demo (same directory or KASSA_DATA_DIR), use what it uses.
        settings = beside_demo(settings)
    try:
        sys.exit(args.command(args, settings))
    except ConfigurationError as exc:
        print(f"kassa: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)  # Ctrl+C: everything it started has stopped; no traceback to read
    except asyncpg.InvalidCatalogNameError as exc:
        print(f"kassa: {exc}: run `kassa migrate` (or `kassa demo`) first", file=sys.stderr)
        sys.exit(2)


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kassa", description="kassa payments service")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    _add(commands, "demo", _demo, "run the demo: embedded Postgres + local Stripe server")
    _add(commands, "serve", _serve, "serve the API (refuses to start with pending migrations)")
    _add(commands, "migrate", _migrate, "apply database migrations")
    makemigrations = _add(commands, "makemigrations", _makemigrations, "write a new migration")
    makemigrations.add_argument("--name", default=None)
    _add(commands, "worker", _worker, "run a worker: apply Stripe events, send the outbox")
    reconcile = _add(commands, "reconcile", _reconcile, "apply what kassa missed from Stripe")
    reconcile.add_argument("--since", type=_duration, default=timedelta(hours=24))
    _add(commands, "schema", _schema, "print the GraphQL SDL")
    events = _add(commands, "events", _events, "list or replay stored Stripe events")
    events.add_argument("action", choices=["list", "replay"])
    events.add_argument(
        "--status", type=str.lower, choices=[status.value.lower() for status in StripeEventStatus]
    )
    events.add_argument("--id", dest="event_id", help="one event (replay)")
    events.add_argument("--dead", action="store_true", help="every dead event (replay)")
    events.add_argument("--since", type=_duration, help="received within, e.g. 24h, 30m, 7d")
    apikey = _add(commands, "apikey", _apikey, "create, list or revoke organization API keys")
    apikey.add_argument("action", choices=["create", "list", "revoke"])
    apikey.add_argument("--org", help="the organization: its org_… id or its name")
    apikey.add_argument("--name", help="what the key is for (create)")
    apikey.add_argument(
        "--role", default="member", type=str.lower, choices=[r.value for r in API_KEY_ROLES]
    )
    apikey.add_argument("--id", dest="key_id", help="the key to revoke")
    stripe = _add(commands, "stripe", _stripe, "create kassa's webhook endpoint at Stripe")
    stripe.add_argument("action", choices=["setup"])
    stripe.add_argument("--url", required=True, help="https://…/webhooks/stripe of your kassa")
    token = _add(commands, "token", _token, "print a development bearer token")
    token.add_argument("--org", default=None, help="the organization: its org_… id or its name")
    token.add_argument(
        "--role", default="owner", type=str.lower, choices=[role.value for role in OrgRole]
    )
    token.add_argument("--sub", default="dev-user", help="user id (sub claim)")
    token.add_argument("--email", default=None, help="the user's email (receipts go there)")
    token.add_argument("--platform-admin", action="store_true")
    return parser


def _add(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    command: Command,
    help_text: str,
) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(command=command)
    return parser


def _token(args: argparse.Namespace, settings: Settings) -> int:
    settings = with_dev_jwt_secret(settings, read_kept=True)
    require_jwt_secret(settings)
    org = _token_organization(settings, args.org)
    role = OrgRole(args.role)
    print(dev_token(settings, org, role, args.sub, args.platform_admin, args.email))
    return 0


def _token_organization(settings: Settings, reference: str | None) -> str | None:
    """The name the token carries; looked up (and created) in kassa's database when there
    is one, so an `org_…` id works and the answer says which organization it is."""
    from kassa.worker.process import organization_named

    if reference is None:
        return None
    if _has_database(settings):
        with database_url(settings.database_url, settings.data_dir) as url:
            return asyncio.run(organization_named(url, reference))
    if kind_of(reference) is IdKind.ORGANIZATION:
        raise ConfigurationError(
            f"{reference} is an id in kassa's database, and there is none here: run this "
            "beside `kassa demo` (same directory or KASSA_DATA_DIR), set DATABASE_URL, or "
            "give the organization's name"
        )
    print(f'organization "{reference}": created on the token\'s first use', file=sys.stderr)
    return reference


def _has_database(settings: Settings) -> bool:
    return bool(settings.database_url) or (settings.data_dir / "pg" / "PG_VERSION").exists()


def _require_database(settings: Settings) -> None:
    if not _has_database(settings):
        raise ConfigurationError(
            f"no kassa database: no demo ran in {settings.data_dir} and DATABASE_URL is not "
            "set (run this beside `kassa demo`: same directory or KASSA_DATA_DIR)"
        )


def _duration(text: str) -> timedelta:
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise argparse.ArgumentTypeError("a duration such as 30m, 24h or 7d")
    return timedelta(**{units[text[-1]]: int(text[:-1])})


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from kassa.worker.process import run_worker_process

    settings = with_dev_jwt_secret(settings)
    Runtime.check(settings)
    with database_url(settings.database_url, settings.data_dir) as url:
        return asyncio.run(run_worker_process(settings, url))


def _events(args: argparse.Namespace, settings: Settings) -> int:
    from kassa.worker.process import list_events, replay_events

    _require_database(settings)
    with database_url(settings.database_url, settings.data_dir) as url:
        if args.action == "list":
            status = StripeEventStatus(args.status.upper()) if args.status else None
            return asyncio.run(list_events(url, status, args.since))
        if not (args.event_id or args.dead or args.since):
            raise ConfigurationError("replay needs --id EVENT, --dead or --since DURATION")
        settings = with_dev_jwt_secret(settings)
        return asyncio.run(replay_events(settings, url, args.event_id, args.dead, args.since))


def _apikey(args: argparse.Namespace, settings: Settings) -> int:
    from kassa.worker.process import manage_api_keys

    if args.action in ("create", "list") and not args.org:
        raise ConfigurationError(f"apikey {args.action} needs --org ORGANIZATION")
    if args.action == "create" and not args.name:
        raise ConfigurationError("apikey create needs --name NAME")
    if args.action == "revoke" and not args.key_id:
        raise ConfigurationError("apikey revoke needs --id KEY")
    _require_database(settings)
    with database_url(settings.database_url, settings.data_dir) as url:
        return asyncio.run(manage_api_keys(url, args))


def _reconcile(args: argparse.Namespace, settings: Settings) -> int:
    from kassa.worker.process import reconcile_once

    settings = with_dev_jwt_secret(settings)
    Runtime.check(settings)
    _require_database(settings)
    with database_url(settings.database_url, settings.data_dir) as url:
        return asyncio.run(reconcile_once(settings, url, args.since))


def _stripe(args: argparse.Namespace, settings: Settings) -> int:
    from kassa.services.stripe_events import HANDLERS
    from kassa.services.stripe_gateway import API_VERSION, StripeFailure, StripeGateway

    if not settings.stripe_secret_key:
        raise ConfigurationError("STRIPE_SECRET_KEY is not set: the endpoint is made with it")
    if not args.url.startswith(("https://", "http://")):
        raise ConfigurationError("--url is the address of kassa's /webhooks/stripe")
    events = sorted(HANDLERS)

    async def create() -> tuple[str, str]:
        gateway = StripeGateway(settings.stripe_secret_key or "", api_base=settings.stripe_api_base)
        try:
            return await gateway.create_webhook_endpoint(url=args.url, events=events)
        finally:
            await gateway.aclose()

    try:
        endpoint_id, secret = asyncio.run(create())
    except StripeFailure as exc:
        raise ConfigurationError(f"Stripe refused the endpoint: {exc}") from exc
    print(f"webhook endpoint {endpoint_id}: {args.url}", file=sys.stderr)
    print(f"  API version {API_VERSION}; events: {', '.join(events)}", file=sys.stderr)
    print(
        "  its signing secret (set STRIPE_WEBHOOK_SECRET to it; Stripe shows it once):",
        file=sys.stderr,
    )
    print(secret)
    return 0


def _schema(args: argparse.Namespace, settings: Settings) -> int:
    from kassa.schema import build_schema

    print(build_schema().as_str())
    return 0


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    with database_url(settings.database_url, settings.data_dir) as url:
        if not settings.database_url:
            asyncio.run(ensure_database(url))
        applied = asyncio.run(apply_migrations(url))
    print("applied: " + ", ".join(applied) if applied else "database schema is current")
    return 0


def _makemigrations(args: argparse.Namespace, settings: Settings) -> int:
    from tortoise.cli.cli import run_cli_async

    argv = ["-c", "kassa.db.DEVELOPMENT_CONFIG", "makemigrations"]
    return asyncio.run(run_cli_async([*argv, "--name", args.name] if args.name else argv))


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    settings = with_dev_jwt_secret(settings)
    Runtime.check(settings)
    with database_url(settings.database_url, settings.data_dir) as url:
        if not settings.database_url:
            # The embedded database is kassa's own: keep it current without a separate step.
            asyncio.run(ensure_database(url))
            asyncio.run(apply_migrations(url))
        pending = asyncio.run(pending_migrations(url))
        if pending:
            print(
                f"kassa: {len(pending)} migration(s) pending ({', '.join(pending)}); "
                "run `kassa migrate` first",
                file=sys.stderr,
            )
            return 2
        asyncio.run(_run_server(settings, url, on_ready=None))
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from kassa.demo.launcher import run_demo

    demo_settings = settings.with_overrides(environment=Environment.DEMO)
    return run_demo(with_dev_jwt_secret(demo_settings), _run_server)


class _Server(uvicorn.Server):
    """uvicorn's server, telling the caller once it listens."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        # What is loaded by now (modules, the schema, the ORM's models) lives as long as the
        # process: kept out of the collector's full passes, which walked all ~180,000 of
        # those objects (~45 ms, every few hundred requests, stalling every request in
        # flight: a list query's p99).
        gc.freeze()
        if self._on_ready is not None:
            self._on_ready()


async def _run_server(settings: Settings, url: str, on_ready: Callable[[], None] | None) -> None:
    from kassa.app import create_app

    app = create_app(settings, url)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        # Websocket messages carry GraphQL documents too: the same cap as a request body.
        ws_max_size=settings.graphql_max_body_bytes,
    )
    await _Server(config, on_ready).serve()


if __name__ == "__main__":
    main()
