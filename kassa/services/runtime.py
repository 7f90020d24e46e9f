"""What one running kassa process shares across requests: settings and its clients."""

from __future__ import annotations

from dataclasses import dataclass

from kassa.config import ConfigurationError, Environment, Settings
from kassa.services.host_notifications import HostNotifier
from kassa.services.identity import TokenVerifier
from kassa.services.jobs import JobQueue
from kassa.services.live_updates import PaymentUpdates
from kassa.services.mail import Mailer
from kassa.services.rate_limits import MemoryRateLimiter, PostgresRateLimiter, RateLimiter
from kassa.services.stripe_events import Expectations, WorkerWakeUp
from kassa.services.stripe_gateway import StripeGateway

# HS256 keys shorter than the hash are guessable offline from any one token (RFC 7518 3.2).
MIN_JWT_SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: Settings
    gateway: StripeGateway
    tokens: TokenVerifier
    expected_events: Expectations
    jobs: JobQueue
    payment_updates: PaymentUpdates
    mailer: Mailer
    host_notifier: HostNotifier
    rate_limiter: RateLimiter
    events_stored: WorkerWakeUp

    @staticmethod
    def check(settings: Settings) -> str:
        """Refuse settings that cannot serve, naming the variable to set; the Stripe key."""
        if not settings.stripe_secret_key:
            raise ConfigurationError(
                "STRIPE_SECRET_KEY is not set (`kassa demo` starts a local Stripe server instead)"
            )
        if not (settings.jwt_secret or settings.jwt_jwks_url):
            raise ConfigurationError("set KASSA_JWT_SECRET or KASSA_JWT_JWKS_URL")
        if settings.jwt_secret and len(settings.jwt_secret.encode()) < MIN_JWT_SECRET_BYTES:
            raise ConfigurationError(
                f"KASSA_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes"
            )
        return settings.stripe_secret_key

    @classmethod
    def from_settings(cls, settings: Settings, database_url: str) -> Runtime:
        secret_key = cls.check(settings)
        return cls(
            settings=settings,
            gateway=StripeGateway(
                secret_key,
                api_base=settings.stripe_api_base,
                timeout_seconds=settings.stripe_timeout_seconds,
                max_network_retries=settings.stripe_max_network_retries,
            ),
            tokens=TokenVerifier(
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                secret=settings.jwt_secret,
                jwks_url=settings.jwt_jwks_url,
            ),
            expected_events=Expectations(
                livemode=settings.livemode, account=settings.stripe_account_id
            ),
            jobs=JobQueue(database_url),
            payment_updates=PaymentUpdates(database_url),
            mailer=Mailer(settings),
            host_notifier=HostNotifier(
                allow_private_addresses=settings.environment is not Environment.PRODUCTION
            ),
            rate_limiter=(
                PostgresRateLimiter()
                if settings.rate_limit_backend == "postgres"
                else MemoryRateLimiter()
            ),
            events_stored=WorkerWakeUp(),
        )

    async def open(self) -> None:
        await self.jobs.open()

    async def close(self) -> None:
        await self.events_stored.close()
        await self.jobs.close()
        await self.payment_updates.close()
        await self.gateway.aclose()
