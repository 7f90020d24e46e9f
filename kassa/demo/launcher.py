"""`kassa demo`: embedded PostgreSQL + local Stripe-compatible server + kassa, one command."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg

from kassa.config import Settings
from kassa.db import apply_migrations, asyncpg_dsn, database_url, ensure_database
from kassa.demo import state
from kassa.demo.local_stripe import PUBLISHABLE_KEY, SECRET_KEY, LocalStripe
from kassa.secrets import dev_token, with_demo_webhook_secret
from kassa.services.identity import OrgRole
from kassa.services.storefront import DEMO_ORGANIZATION

ServerRunner = Callable[[Settings, str, Callable[[], None] | None], Coroutine[Any, Any, None]]


def run_demo(settings: Settings, run_server: ServerRunner) -> int:
    settings = with_demo_webhook_secret(settings)
    kept_objects = settings.data_dir / state.LOCAL_STRIPE_STATE
    restored = kept_objects.exists()
    local_stripe = None if settings.stripe_secret_key else _start_local_stripe(settings)
    try:
        if local_stripe is not None:
            settings = _use_local_stripe(settings, local_stripe)
        state.write(settings.data_dir, _state(settings, local_stripe))
        with database_url(settings.database_url, settings.data_dir) as url:
            # Only kassa's own embedded database: never one named by DATABASE_URL.
            embedded = not settings.database_url
            fresh_stripe = local_stripe is not None and embedded and not restored
            asyncio.run(_prepare_database(url, fresh_stripe=fresh_stripe))
            settings = _with_quick_retry_mails(settings)
            asyncio.run(run_server(settings, url, lambda: _print_banner(settings, local_stripe)))
    finally:
        if local_stripe is not None:
            local_stripe.stop()
    return 0


def _start_local_stripe(settings: Settings) -> LocalStripe:
    """Its objects are kept in the data dir, and the port it had last time is asked for
    again, so what a person copied from the last run (an id, a URL) still works."""
    kept = state.read(settings.data_dir)
    return LocalStripe.start(
        port=kept.local_stripe_port if kept else None,
        state_file=(settings.data_dir / state.LOCAL_STRIPE_STATE).resolve(),
    )


def _state(settings: Settings, local_stripe: LocalStripe | None) -> state.DemoState:
    if local_stripe is None:
        return state.DemoState(kassa_url=_base_url(settings), database_url=settings.database_url)
    return state.DemoState(
        kassa_url=_base_url(settings),
        database_url=settings.database_url,
        stripe_secret_key=SECRET_KEY,
        stripe_publishable_key=PUBLISHABLE_KEY,
        stripe_api_base=local_stripe.api_base,
        stripe_js_url=local_stripe.js_url,
        local_stripe_port=local_stripe.port,
    )


async def _prepare_database(url: str, *, fresh_stripe: bool) -> None:
    await ensure_database(url)
    await apply_migrations(url)
    if fresh_stripe:
        await _forget_local_stripe_objects(url)
    await _give_demo_a_billing_address(url)


# Where the demo organization's failed payments are mailed (printed: the demo has no SMTP).
DEMO_BILLING_EMAIL = "billing@demo.kassa.test"
# A person trying a declined card sees its retry mail within the minute, not in half an hour.
DEMO_RECOVERY_MAIL_DELAY_SECONDS = 15.0


async def _give_demo_a_billing_address(url: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute(
            "INSERT INTO organizations (id, external_id, name, billing_email, created_at) "
            "VALUES ($1, $2, $2, $3, now()) ON CONFLICT (external_id) "
            "DO UPDATE SET billing_email = coalesce(organizations.billing_email, $3)",
            uuid.uuid4(),
            DEMO_ORGANIZATION,
            DEMO_BILLING_EMAIL,
        )
    finally:
        await connection.close()


def _with_quick_retry_mails(settings: Settings) -> Settings:
    if "recovery_mail_delay_seconds" in settings.model_fields_set:
        return settings  # KASSA_RECOVERY_MAIL_DELAY_SECONDS said otherwise
    return settings.with_overrides(recovery_mail_delay_seconds=DEMO_RECOVERY_MAIL_DELAY_SECONDS)


async def _forget_local_stripe_objects(url: str) -> None:
    """A local Stripe server without kept objects (its file deleted, or a demo from before
    they were kept) starts empty while the demo's database is kept: Customers and saved
    cards from an earlier run no longer exist there, and a payment naming them would fail.
    kassa makes them again on first need (plans: at start)."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        async with connection.transaction():
            await connection.execute("DELETE FROM saved_cards")
            await connection.execute("UPDATE organizations SET stripe_customer_id = NULL")
            # The plans' Products and Prices are made again at start; subscriptions billed
            # by the server that is gone can never be billed again.
            await connection.execute("UPDATE credit_plans SET at_stripe = false")
            await connection.execute(
                "UPDATE credit_subscriptions SET status = 'CANCELED' "
                "WHERE status IN ('INCOMPLETE', 'ACTIVE', 'PAST_DUE', 'UNPAID')"
            )
    finally:
        await connection.close()


def _use_local_stripe(settings: Settings, local_stripe: LocalStripe) -> Settings:
    local_stripe.register_webhook(
        f"{_base_url(settings)}/webhooks/stripe", settings.webhook_secrets[0]
    )
    return settings.with_overrides(
        stripe_secret_key=SECRET_KEY,
        stripe_publishable_key=PUBLISHABLE_KEY,
        stripe_api_base=local_stripe.api_base,
        stripe_js_url=local_stripe.js_url,
    )


def _base_url(settings: Settings) -> str:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    return f"http://{host}:{settings.port}"


def _print_banner(settings: Settings, local_stripe: LocalStripe | None) -> None:
    token = dev_token(settings, DEMO_ORGANIZATION, OrgRole.OWNER, "demo-user", False)
    stripe_line = (
        f"local Stripe-compatible server at {local_stripe.api_base}\n"
        "  (startCheckout answers a url on its own Checkout page; card 4242 4242 4242 4242)"
        if local_stripe
        else "Stripe: the configured account"
    )
    retry_after = settings.recovery_mail_delay_seconds
    print(
        f"""
kassa demo is ready.
  Storefront: {_base_url(settings)}/   (top up, buy credits, pay an order in a browser)
  GraphiQL:  {_base_url(settings)}/graphql
  {stripe_line}
  Token (organization "{DEMO_ORGANIZATION}", owner, valid 24 h), for the GraphiQL headers tab:
    {{"Authorization": "Bearer {token}"}}
  More tokens: `kassa token --org {DEMO_ORGANIZATION} --role member` here (same data dir).
  State: {settings.data_dir} (delete it to start over). Mail is printed below.
  A declined card (4000 0000 0000 0002) on the storefront: {retry_after:.0f} s later its retry
    mail to {DEMO_BILLING_EMAIL} is printed below, with a link that pays it with 4242.
  Try: query {{ viewer {{ organizations {{ organization {{ id }} }} }} }}, then
    mutation {{ topUpWallet(input: {{organizationId: "<id>", amount: "25.00", currency: "usd",
      paymentMethodId: "pm_card_visa"}})
      {{ ... on PaymentIntentCreated {{ payment {{ status }} }} ... on UserError {{ message }} }} }}
  Press Ctrl+C to stop (the database and the local Stripe server stop with it).
""",
        flush=True,
    )
