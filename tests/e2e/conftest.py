from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kassa.demo.local_stripe import LocalStripe
from tests.e2e.checkout_at_stripe import CheckoutAtStripe


@pytest.fixture
async def checkout_at_stripe(local_stripe: LocalStripe) -> AsyncIterator[CheckoutAtStripe]:
    gateway = CheckoutAtStripe(local_stripe.api_base)
    yield gateway
    await gateway.aclose()
