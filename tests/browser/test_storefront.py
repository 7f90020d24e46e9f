"""The demo storefront at `/` (development mode here), driven in Chromium: wallet top-ups
with the local Stripe.js's card field, live updates without a reload."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Page, expect

from tests.browser.pages import (
    DECLINED,
    FOUR_TWO,
    THREE_D_SECURE,
    amount_of,
    complete_3d_secure,
    fill_card,
    look,
    timed,
)
from tests.browser.support import Traffic


async def open_storefront(page: Page) -> None:
    await page.goto("/")
    await expect(page.get_by_test_id("wallet-balance")).to_have_text(re.compile(r"USD$"))


async def balance(page: Page) -> str:
    return await page.get_by_test_id("wallet-balance").inner_text()


async def test_a_top_up_with_4242_changes_the_balance_without_a_reload(
    page: Page, traffic: Traffic, kassa_url: str, stripe_origin: str, tmp_path: Path
) -> None:
    # given
    await open_storefront(page)
    before = amount_of(await balance(page))
    await page.get_by_test_id("topup-amount").fill("25.00")
    await fill_card(page, FOUR_TWO)

    # when
    seconds = await timed(
        page.get_by_test_id("topup-submit").click,
        page.get_by_test_id("payment-status"),
        "SUCCEEDED",
    )

    # then
    await expect(page.get_by_test_id("wallet-balance")).to_have_text(f"{before + 25:.2f} USD")
    await expect(page.get_by_test_id("payment-row").first).to_contain_text("SUCCEEDED")
    print(f"\nstorefront top-up 4242: click to SUCCEEDED in {seconds:.2f} s")
    await look(page, tmp_path, "storefront")
    assert traffic.foreign(kassa_url) == [
        url for url in traffic.urls if url.startswith(stripe_origin)
    ]
    assert traffic.errors == []


async def test_a_declined_card_shows_why_and_leaves_the_balance(page: Page, tmp_path: Path) -> None:
    # given
    await open_storefront(page)
    before = await balance(page)
    await page.get_by_test_id("topup-amount").fill("13.00")
    await fill_card(page, DECLINED)

    # when
    await page.get_by_test_id("topup-submit").click()

    # then
    await expect(page.get_by_test_id("payment-status")).to_have_text(re.compile(r"^FAILED: .+"))
    await expect(page.get_by_test_id("payment-row").first).to_contain_text("FAILED")
    assert await balance(page) == before
    await look(page, tmp_path, "storefront-declined")


async def test_a_3d_secure_card_completes_the_challenge_and_is_saved(
    page: Page, traffic: Traffic, kassa_url: str, tmp_path: Path
) -> None:
    # given
    await open_storefront(page)
    before = amount_of(await balance(page))
    cards_before = await page.get_by_test_id("saved-card").count()
    await page.get_by_test_id("topup-amount").fill("40.00")
    await fill_card(page, THREE_D_SECURE)
    await page.get_by_test_id("save-card").check()

    # when
    async def pay_and_authenticate() -> None:
        await page.get_by_test_id("topup-submit").click()
        await complete_3d_secure(page, times=2)  # the card's setup, then the payment

    seconds = await timed(pay_and_authenticate, page.get_by_test_id("payment-status"), "SUCCEEDED")

    # then
    print(f"\nstorefront top-up 3-D Secure (two boxes clicked): SUCCEEDED in {seconds:.2f} s")
    await expect(page.get_by_test_id("wallet-balance")).to_have_text(f"{before + 40:.2f} USD")
    await expect(page.get_by_test_id("saved-card")).to_have_count(cards_before + 1)
    await expect(page.get_by_test_id("saved-card").last).to_contain_text("3155")
    # The payment's own change reached the page over the paymentUpdated subscription.
    assert kassa_url.replace("http", "ws", 1) + "/graphql" in traffic.urls
    await look(page, tmp_path, "storefront-3ds")


async def test_an_owner_refunds_part_of_a_payment_from_the_history(page: Page) -> None:
    # given a paid top-up
    await open_storefront(page)
    before = amount_of(await balance(page)) + 20
    await page.get_by_test_id("topup-amount").fill("20.00")
    await fill_card(page, FOUR_TWO)
    await page.get_by_test_id("topup-submit").click()
    await expect(page.get_by_test_id("wallet-balance")).to_have_text(f"{before:.2f} USD")
    page.once("dialog", lambda dialog: dialog.accept("5.00"))

    # when
    await page.get_by_test_id("payment-row").first.get_by_test_id("refund").click()

    # then
    await expect(page.get_by_test_id("payment-row").first).to_contain_text("refunded 5.00 USD")
    await expect(page.get_by_test_id("wallet-balance")).to_have_text(f"{before - 5:.2f} USD")
