"""Stripe Checkout end to end in Chromium: the storefront starts it, the local server's hosted
page takes the card, kassa's success page shows the verified outcome."""

from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.async_api import Page, expect

from tests.browser.pages import FOUR_TWO, fill_card, look, timed
from tests.e2e.hosted_checkout import HostedPage, start_checkout
from tests.support import Kassa


async def pay_on_checkout(page: Page, card: str = FOUR_TWO) -> float:
    """On the local server's hosted Checkout page; seconds from "Pay" to `paid` on kassa's
    success page."""
    await expect(page.get_by_test_id("checkout-pay")).to_be_visible()
    await fill_card(page, card)
    return await timed(
        page.get_by_test_id("checkout-pay").click, page.get_by_test_id("checkout-status"), "paid"
    )


async def test_a_credit_package_through_checkout_lands_on_a_paid_success_page(
    page: Page, tmp_path: Path
) -> None:
    # given
    await page.goto("/")
    credits = page.get_by_test_id("credits-balance")
    await expect(credits).to_have_text(re.compile(r"^[0-9,]+$"))
    before = int((await credits.inner_text()).replace(",", ""))

    # when
    await page.get_by_test_id("package-standard").get_by_test_id("buy-checkout").click()
    await expect(page.get_by_test_id("checkout-pay")).to_be_visible()
    await look(page, tmp_path, "hosted-checkout")
    seconds = await pay_on_checkout(page)

    # then
    print(f"\nCheckout, credit package: Pay to success page paid in {seconds:.2f} s")
    await expect(page).to_have_url(re.compile(r"/checkout/success\?session_id=cs_"))
    await expect(page.get_by_test_id("checkout-amount")).to_have_text("100.00 CNY")
    await expect(page.get_by_test_id("credits-added")).to_have_text("1,100")
    await expect(page.get_by_test_id("order-reference")).to_have_count(0)
    await look(page, tmp_path, "checkout-success")
    await page.goto("/")
    await expect(credits).to_have_text(f"{before + 1100:,}")


async def test_a_booking_through_checkout_names_its_order_on_the_success_page(
    page: Page, tmp_path: Path
) -> None:
    # given
    await page.goto("/")
    await page.get_by_test_id("order-description").fill("Tennis court, Sunday 10:00")
    await page.get_by_test_id("order-amount").fill("42.50")
    await page.get_by_test_id("order-email").fill("player@example.com")

    # when
    await page.get_by_test_id("order-submit").click()
    seconds = await pay_on_checkout(page)

    # then
    print(f"\nCheckout, booking: Pay to success page paid in {seconds:.2f} s")
    await expect(page).to_have_url(re.compile(r"/checkout/success\?session_id=cs_"))
    await expect(page.get_by_test_id("checkout-amount")).to_have_text("42.50 USD")
    await expect(page.get_by_test_id("order-reference")).to_have_text("Tennis court, Sunday 10:00")
    await expect(page.get_by_test_id("credits-added")).to_have_count(0)
    await look(page, tmp_path, "checkout-success-order")


async def test_the_success_page_turns_paid_by_itself(
    page: Page, kassa: Kassa, tmp_path: Path
) -> None:
    # given a session not paid yet, and its success page open
    member = await kassa.member()
    started = await start_checkout(
        kassa, member, organizationId=member.organization_id, creditPackage="trial"
    )
    await page.goto(f"/checkout/success?session_id={started['sessionId']}")
    await expect(page.get_by_test_id("checkout-status")).to_have_text("processing")
    await look(page, tmp_path, "checkout-processing")

    # when the customer pays (in another tab)
    answer = await HostedPage(started["url"]).pay()
    assert answer.status_code == 200, answer.text
    paid_at = time.monotonic()

    # then, without a reload
    await expect(page.get_by_test_id("checkout-status")).to_have_text("paid", timeout=3_000)
    print(f"\nsuccess page left open: paid {time.monotonic() - paid_at:.2f} s after the payment")
    await expect(page.get_by_test_id("credits-added")).to_have_text("500")


async def test_an_unknown_session_shows_unknown_and_nothing_else(
    page: Page, tmp_path: Path
) -> None:
    # when
    response = await page.goto("/checkout/success?session_id=cs_test_not_kassas_0000")

    # then
    assert response is not None and response.status == 404
    await expect(page.get_by_test_id("checkout-status")).to_have_text("unknown")
    for testid in ("checkout-amount", "credits-added", "order-reference"):
        await expect(page.get_by_test_id(testid)).to_have_count(0)
    await look(page, tmp_path, "checkout-unknown")


async def test_cancel_on_checkout_leads_back_to_the_shop(page: Page, tmp_path: Path) -> None:
    # given
    await page.goto("/")
    await page.get_by_test_id("package-trial").get_by_test_id("buy-checkout").click()

    # when
    await page.get_by_test_id("checkout-cancel").click()

    # then
    await expect(page.get_by_role("heading", name="Payment canceled")).to_be_visible()
    await look(page, tmp_path, "checkout-cancel")
    await page.get_by_test_id("back").click()
    await expect(page.get_by_test_id("wallet-balance")).to_be_visible()
