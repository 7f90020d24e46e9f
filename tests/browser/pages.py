"""Driving kassa's pages as a person does: the card field the local Stripe.js renders, its
3-D Secure box, and the clock from a click to a paid payment."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

from playwright.async_api import Locator, Page, expect

from tests.browser.support import PHONE, WIDE

FOUR_TWO = "4242424242424242"
DECLINED = "4000000000000341"
THREE_D_SECURE = "4000002500003155"
# Chromium on two shared cores is slow to start a page; the webhook comes a second later.
PAID_WITHIN_MS = 15_000


async def fill_card(page: Page, number: str, scope: str = '[data-testid="card-element"]') -> None:
    """The local Stripe.js's card element: five plain inputs (the real one is an iframe)."""
    field = page.locator(scope)
    await field.locator('input[placeholder="number"]').fill(number)
    await field.locator('input[placeholder="exp_month"]').fill("12")
    await field.locator('input[placeholder="exp_year"]').fill("34")
    await field.locator('input[placeholder="cvc"]').fill("123")
    await field.locator('input[placeholder="postal_code"]').fill("10115")


async def complete_3d_secure(page: Page, times: int) -> None:
    """Click "Complete authentication" in the local Stripe.js's box, `times` times (once
    for the card's setup, once for the payment)."""
    for _ in range(times):
        button = page.get_by_role("button", name="Complete authentication")
        await button.click(timeout=PAID_WITHIN_MS)
        await expect(button).to_have_count(0)


async def timed(action: Callable[[], Awaitable[None]], until: Locator, text: str) -> float:
    """Seconds from `action` to `until` showing `text`."""
    started = time.monotonic()
    await action()
    await expect(until).to_have_text(text, timeout=PAID_WITHIN_MS)
    return time.monotonic() - started


def amount_of(text: str) -> Decimal:
    """`25.00 USD` → Decimal("25.00")."""
    return Decimal(text.split()[0].replace(",", ""))


async def look(page: Page, folder: Path, name: str) -> None:
    """Whole-page screenshots at 1280 and 390 px in the test's folder, or in KASSA_SCREENSHOTS when
    set (to look at every page after a run)."""
    wanted = os.environ.get("KASSA_SCREENSHOTS")
    folder = Path(wanted) if wanted else folder
    for viewport in (WIDE, PHONE):
        await page.set_viewport_size(viewport)
        await page.screenshot(path=folder / f"{name}-{viewport['width']}.png", full_page=True)
    await page.set_viewport_size(WIDE)
