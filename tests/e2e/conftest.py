from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kassa.demo.local_stripe import SECRET_KEY, LocalStripe
from kassa.services.stripe_gateway import StripeGateway


@pytest.fixture
async def stripe_gateway(local_stripe: LocalStripe) -> AsyncIterator[StripeGateway]:
    """A gateway of its own to the local Stripe-compatible server, for tests that call
    kassa's services directly or change how one call behaves."""
    gateway = StripeGateway(SECRET_KEY, api_base=local_stripe.api_base)
    yield gateway
    await gateway.aclose()
