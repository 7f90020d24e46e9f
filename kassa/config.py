"""Settings from the environment (and a `.env` file), as documented in API.md."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigurationError(Exception):
    """The settings cannot run kassa; the message says which variable to set."""


class Environment(StrEnum):
    DEMO = "demo"
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # Production unless said otherwise: GraphiQL, generated secrets and friendly error
    # detail are opt-in (`kassa demo` runs in demo mode by itself).
    environment: Environment = Field(Environment.PRODUCTION, alias="KASSA_ENV")
    database_url: str | None = Field(None, alias="DATABASE_URL")
    data_dir: Path = Field(Path(".kassa"), alias="KASSA_DATA_DIR")
    # Connections each process keeps, and how long anything waits on PostgreSQL (kassa/db.py).
    db_pool_size: int = Field(10, alias="KASSA_DB_POOL_SIZE", ge=2)
    db_pool_wait_seconds: float = Field(5.0, alias="KASSA_DB_POOL_WAIT_SECONDS", gt=0)
    db_statement_timeout_ms: int = Field(15_000, alias="KASSA_DB_STATEMENT_TIMEOUT_MS", ge=0)
    db_lock_timeout_ms: int = Field(5_000, alias="KASSA_DB_LOCK_TIMEOUT_MS", ge=0)
    host: str = Field("127.0.0.1", alias="KASSA_HOST")
    port: int = Field(8000, alias="KASSA_PORT")
    public_url: str | None = Field(None, alias="KASSA_PUBLIC_URL")

    stripe_secret_key: str | None = Field(None, alias="STRIPE_SECRET_KEY")
    stripe_publishable_key: str | None = Field(None, alias="STRIPE_PUBLISHABLE_KEY")
    stripe_webhook_secret: str | None = Field(None, alias="STRIPE_WEBHOOK_SECRET")
    stripe_api_base: str | None = Field(None, alias="STRIPE_API_BASE")
    # One Stripe call's timeout and network retries; a GraphQL operation's total wait on
    # Stripe (a timed-out call is reported as an unknown outcome, never as a failure).
    stripe_timeout_seconds: float = Field(10.0, alias="KASSA_STRIPE_TIMEOUT_SECONDS", gt=0)
    stripe_max_network_retries: int = Field(1, alias="KASSA_STRIPE_MAX_NETWORK_RETRIES", ge=0)
    request_deadline_seconds: float = Field(20.0, alias="KASSA_REQUEST_DEADLINE_SECONDS", gt=0)
    stripe_js_url: str = Field("https://js.stripe.com/v3/", alias="STRIPE_JS_URL")
    # The Stripe account kassa expects events from; events naming another one are ignored.
    stripe_account_id: str | None = Field(None, alias="STRIPE_ACCOUNT_ID")

    jwt_secret: str | None = Field(None, alias="KASSA_JWT_SECRET")
    jwt_jwks_url: str | None = Field(None, alias="KASSA_JWT_JWKS_URL")
    jwt_issuer: str = Field("kassa", alias="KASSA_JWT_ISSUER")
    jwt_audience: str = Field("kassa", alias="KASSA_JWT_AUDIENCE")

    # Signs the links to kassa's payment page (`/pay/…`); derived from KASSA_JWT_SECRET
    # when unset. Changing it makes every link sent so far invalid.
    link_secret: str | None = Field(None, alias="KASSA_LINK_SECRET")
    pay_link_days: int = Field(7, alias="KASSA_PAY_LINK_DAYS", gt=0)
    # How long after a failed payment its retry mail waits: a payer still at the card form
    # tries another card meanwhile, and is mailed only if the payment is still unpaid then.
    recovery_mail_delay_seconds: float = Field(
        1800.0, alias="KASSA_RECOVERY_MAIL_DELAY_SECONDS", ge=0
    )

    # Who issues the invoices (PDFs of paid payments), as each shows it; copied into each
    # invoice when it is issued. Prices include tax at KASSA_INVOICE_TAX_RATE percent
    # (0: invoices show a tax of zero).
    seller_name: str = Field("", alias="KASSA_SELLER_NAME", max_length=200)
    seller_address: str = Field("", alias="KASSA_SELLER_ADDRESS", max_length=1000)
    seller_tax_id: str = Field("", alias="KASSA_SELLER_TAX_ID", max_length=100)
    invoice_tax_label: str = Field("Tax", alias="KASSA_INVOICE_TAX_LABEL", max_length=50)
    invoice_tax_rate: Decimal = Field(
        Decimal(0), alias="KASSA_INVOICE_TAX_RATE", ge=0, le=100, decimal_places=2
    )
    # How long the invoice links in receipt mails work.
    invoice_link_days: int = Field(90, alias="KASSA_INVOICE_LINK_DAYS", gt=0)

    graphiql: bool | None = Field(None, alias="KASSA_GRAPHIQL")
    webhook_max_body_bytes: int = Field(1024 * 1024, alias="KASSA_WEBHOOK_MAX_BODY_BYTES")
    graphql_max_body_bytes: int = Field(64 * 1024, alias="KASSA_GRAPHQL_MAX_BODY_BYTES")
    # Mutations per minute, per caller (token subject or API key) and per client address;
    # 0 turns a limit off. `postgres` counts across every process sharing the database.
    rate_limit_backend: Literal["memory", "postgres"] = Field(
        "memory", alias="KASSA_RATE_LIMIT_BACKEND"
    )
    rate_limit_per_caller: int = Field(120, alias="KASSA_RATE_LIMIT_PER_CALLER", ge=0)
    rate_limit_per_address: int = Field(600, alias="KASSA_RATE_LIMIT_PER_ADDRESS", ge=0)
    # Browser origins allowed to call the API (CORS), comma-separated; none by default.
    cors_origins_text: str = Field("", alias="KASSA_CORS_ORIGINS")
    # Proxies of your own in front of kassa, whose X-Forwarded-For entries are trusted.
    trusted_proxy_hops: int = Field(0, alias="KASSA_TRUSTED_PROXY_HOPS", ge=0)
    # Checked before strawberry parses or validates a document (kassa/schema/guards.py).
    graphql_max_tokens: int = Field(1000, alias="KASSA_GRAPHQL_MAX_TOKENS", gt=0)
    graphql_max_depth: int = Field(20, alias="KASSA_GRAPHQL_MAX_DEPTH", gt=0)
    graphql_max_fields: int = Field(500, alias="KASSA_GRAPHQL_MAX_FIELDS", gt=0)
    graphql_max_aliases: int = Field(30, alias="KASSA_GRAPHQL_MAX_ALIASES", ge=0)
    # A JSON file of the only documents the API runs (a list, or sha256 hex → document).
    persisted_queries_path: Path | None = Field(None, alias="KASSA_PERSISTED_QUERIES")

    credit_packages_path: Path | None = Field(None, alias="KASSA_CREDIT_PACKAGES")
    credit_expiry_days: int = Field(182, alias="KASSA_CREDIT_EXPIRY_DAYS", gt=0)
    # How often a worker expires due lots; spending never touches an expired lot meanwhile.
    credit_expiry_interval_seconds: float = Field(
        60.0, alias="KASSA_CREDIT_EXPIRY_INTERVAL_SECONDS", gt=0
    )

    smtp_host: str | None = Field(None, alias="SMTP_HOST")
    smtp_port: int = Field(587, alias="SMTP_PORT")
    smtp_user: str | None = Field(None, alias="SMTP_USER")
    smtp_password: str | None = Field(None, alias="SMTP_PASSWORD")
    smtp_from: str = Field("kassa <no-reply@localhost>", alias="SMTP_FROM")
    # The platform's operators, comma-separated: told of disputes.
    admin_emails_text: str = Field("", alias="KASSA_ADMIN_EMAILS")

    # Background work: `kassa serve`/`demo` run one worker in-process unless turned off.
    worker_in_process: bool = Field(True, alias="KASSA_WORKER_IN_PROCESS")
    # Jobs wait in lanes so that applying Stripe events (the database only) never waits
    # behind jobs that call out: events one worker applies at once; follow-ups calling
    # Stripe, and mail and host-app notifications, each at once across all workers.
    worker_concurrency: int = Field(8, alias="KASSA_WORKER_CONCURRENCY", ge=1)
    stripe_follow_up_concurrency: int = Field(4, alias="KASSA_STRIPE_FOLLOW_UP_CONCURRENCY", ge=1)
    message_concurrency: int = Field(4, alias="KASSA_MESSAGE_CONCURRENCY", ge=1)
    # How long an event about to be applied waits for Stripe to name its card; past that it
    # is applied without and its follow-up reads the card.
    event_card_read_seconds: float = Field(1.0, alias="KASSA_EVENT_CARD_READ_SECONDS", gt=0)
    # A job whose worker stops heartbeating this long is picked up by another worker.
    worker_heartbeat_seconds: float = Field(30.0, alias="KASSA_WORKER_HEARTBEAT_SECONDS")
    sweep_interval_seconds: float = Field(5.0, alias="KASSA_SWEEP_INTERVAL_SECONDS")
    event_max_attempts: int = Field(12, alias="KASSA_EVENT_MAX_ATTEMPTS")
    # Events a worker claims and applies in one transaction (a savepoint each). At most 60:
    # PostgreSQL tracks up to 64 subtransactions per transaction cheaply.
    event_batch_size: int = Field(50, alias="KASSA_EVENT_BATCH_SIZE", ge=1, le=60)
    # A second payment that still succeeds for an already-paid order is refunded by itself.
    refund_duplicate_payments: bool = Field(True, alias="KASSA_REFUND_DUPLICATE_PAYMENTS")
    reconcile_interval_seconds: float = Field(900.0, alias="KASSA_RECONCILE_INTERVAL_SECONDS")

    @property
    def webhook_secrets(self) -> list[str]:
        """All accepted signing secrets; several while a secret is being rotated."""
        raw = self.stripe_webhook_secret or ""
        return [secret.strip() for secret in raw.split(",") if secret.strip()]

    @property
    def graphiql_enabled(self) -> bool:
        if self.graphiql is not None:
            return self.graphiql
        return self.environment is not Environment.PRODUCTION

    @property
    def storefront_enabled(self) -> bool:
        """The demo storefront at `/` signs its visitors in: never in production."""
        return self.environment is not Environment.PRODUCTION and bool(self.jwt_secret)

    @property
    def admin_emails(self) -> list[str]:
        return [email.strip() for email in self.admin_emails_text.split(",") if email.strip()]

    @property
    def cors_origins(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins_text.split(",") if origin.strip()]

    @property
    def livemode(self) -> bool:
        return (self.stripe_secret_key or "").startswith(("sk_live_", "rk_live_"))

    def with_overrides(self, **values: object) -> Settings:
        return self.model_copy(update=values)
