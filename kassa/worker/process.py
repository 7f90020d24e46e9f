"""`kassa worker`, `kassa events` and `kassa apikey`: the worker as its own process, and
operator tools."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from tortoise import Tortoise

from kassa.config import ConfigurationError, Settings
from kassa.db import PoolLimits, pool_limits, tortoise_config
from kassa.ids import IdKind, encode, kind_of
from kassa.models import StripeEvent, StripeEventStatus
from kassa.services import api_keys, invoices, jobs, organizations, reconciliation, stripe_events
from kassa.services.errors import DomainError
from kassa.services.identity import OrgRole
from kassa.services.runtime import Runtime
from kassa.worker.runner import Worker


@asynccontextmanager
async def _database(url: str, limits: PoolLimits | None = None) -> AsyncIterator[None]:
    await Tortoise.init(config=tortoise_config(url, limits))
    try:
        yield
    finally:
        await Tortoise.close_connections()


@asynccontextmanager
async def _opened(settings: Settings, url: str) -> AsyncIterator[Runtime]:
    async with _database(url, pool_limits(settings)):
        runtime = Runtime.from_settings(settings, url)
        await invoices.sync_seller(invoices.configured_seller(settings))
        await runtime.open()
        try:
            yield runtime
        finally:
            await runtime.close()


async def run_worker_process(settings: Settings, url: str) -> int:
    """Work until SIGTERM or SIGINT; jobs in flight finish before the process exits."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with _opened(settings, url) as runtime:
        print("kassa worker: running (SIGTERM or Ctrl+C stops it)", flush=True)
        await Worker(runtime, url).run(stop)
    return 0


async def list_events(url: str, status: StripeEventStatus | None, since: timedelta | None) -> int:
    async with _database(url):
        query = StripeEvent.all().order_by("-received_at")
        if status is not None:
            query = query.filter(status=status)
        if since is not None:
            query = query.filter(received_at__gte=datetime.now(UTC) - since)
        for event in await query.limit(1000):
            error = f"  {event.last_error}" if event.last_error else ""
            print(
                f"{event.id}  {event.type}  {event.status}  attempts={event.attempts}  "
                f"received={event.received_at.isoformat()}{error}"
            )
    return 0


async def organization_named(url: str, reference: str) -> str:
    """The name tokens carry for `--org` (an `org_…` id or the name), saying on stderr
    which organization that is and whether it was created now."""
    async with _database(url):
        return await _organization(reference)


async def _organization(reference: str) -> str:
    try:
        organization, created = await organizations.by_reference(reference)
    except DomainError as exc:
        raise ConfigurationError(f"no organization {reference} in this database") from exc
    state = "created" if created else "existing"
    global_id = encode(IdKind.ORGANIZATION, organization.id)
    print(f'{state} organization "{organization.external_id}" ({global_id})', file=sys.stderr)
    return organization.external_id


async def manage_api_keys(url: str, args: argparse.Namespace) -> int:
    """`kassa apikey create|list|revoke`: the key is printed once, at creation."""
    actions = {"create": _create_key, "list": _list_keys, "revoke": _revoke_key}
    async with _database(url):
        if args.action == "create" or (args.org and kind_of(args.org) is IdKind.ORGANIZATION):
            args.org = await _organization(args.org)
        return await actions[args.action](args)


async def _create_key(args: argparse.Namespace) -> int:
    try:
        made = await api_keys.create(args.org, args.name, OrgRole(args.role))
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc
    print(f"id:  {made.key.id}\nkey: {made.secret}")
    print("Keep the key now: kassa stores only its hash and cannot show it again.")
    return 0


async def _list_keys(args: argparse.Namespace) -> int:
    for key in await api_keys.of_organization(args.org):
        state = f"revoked {key.revoked_at.isoformat()}" if key.revoked_at else "active"
        print(f"{key.id}  {key.prefix}…  {key.role}  {key.name}  {state}")
    return 0


async def _revoke_key(args: argparse.Namespace) -> int:
    try:
        key_id = uuid.UUID(args.key_id)
    except ValueError as exc:
        raise ConfigurationError(f"{args.key_id!r} is not a key id") from exc
    if not await api_keys.revoke(key_id):
        print(f"no active key {key_id}", file=sys.stderr)
        return 1
    print(f"revoked {key_id}")
    return 0


async def replay_events(
    settings: Settings,
    url: str,
    event_id: str | None,
    dead: bool,
    since: timedelta | None,
) -> int:
    """Queue failed and dead events again; events already handled stay as they are."""
    async with _opened(settings.with_overrides(worker_in_process=False), url) as runtime:
        candidates = [event_id] if event_id else []
        if dead:
            candidates += await stripe_events.ids_matching(status=StripeEventStatus.DEAD)
        if since is not None:
            candidates += await stripe_events.ids_matching(since=datetime.now(UTC) - since)
        queued = await stripe_events.replay(candidates)
        for queued_id in queued:
            await runtime.jobs.enqueue(jobs.STRIPE_EVENT, queued_id)
    print(f"{len(queued)} event(s) queued again; {len(set(candidates)) - len(queued)} unchanged")
    return 0


async def reconcile_once(settings: Settings, url: str, since: timedelta) -> int:
    async with _opened(settings, url) as runtime:
        run = await reconciliation.reconcile(runtime.gateway, datetime.now(UTC) - since)
    since_text = run.since.isoformat()
    print(f"checked {run.checked} Stripe object(s) since {since_text}; fixed {run.fixed}")
    for fix in run.report:
        stripe_id = fix.get("checkoutSession") or fix.get("paymentIntent") or fix.get("refund")
        change = f" ({fix['from']} -> {fix['to']})" if "to" in fix else ""
        print(f"  {stripe_id}  payment {fix.get('payment', '?')}: {fix['fix']}{change}")
    return 0
