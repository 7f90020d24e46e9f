"""`/pay/{token}`: kassa's own payment page behind a signed link, in Chromium."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from playwright.async_api import Page, expect

from kassa.services import pay_links
from tests.browser.pages import DECLINED, FOUR_TWO, PAID_WITHIN_MS, fill_card, look, timed
from tests.support import Kassa, Member


async def open_payment(kassa: Kassa, amount: str = "18.00") -> tuple[Member, uuid.UUID]:
    """A top-up waiting for a card, as a retry mail would link to it."""
    member = await kassa.member()
    created = await kassa.top_up(member, amount)
    return member, uuid.UUID(created["payment"]["id"].removeprefix("pay_"))


async def test_an_open_link_pays_and_then_shows_no_form(
    page: Page, kassa: Kassa, tmp_path: Path
) -> None:
    # given
    member, payment_id = await open_payment(kassa)
    link = pay_links.link_path(kassa.settings, payment_id)
    await page.goto(link)
    await expect(page.get_by_test_id("pay-amount")).to_have_text("18.00 USD")
    await look(page, tmp_path, "pay-open")
    await fill_card(page, FOUR_TWO)

    # when
    seconds = await timed(
        page.get_by_test_id("pay-submit").click, page.get_by_test_id("pay-status"), "SUCCEEDED"
    )

    # then
    print(f"\n/pay/{{token}} 4242: click to SUCCEEDED in {seconds:.2f} s")
    payment = await kassa.payment(member, f"pay_{payment_id.hex}")
    assert payment["status"] == "SUCCEEDED"
    assert payment["card"]["last4"] == "4242"
    await expect(page.get_by_test_id("pay-submit")).to_be_hidden()


async def test_a_paid_link_says_succeeded_and_has_no_form(
    page: Page, kassa: Kassa, tmp_path: Path
) -> None:
    # given
    _, payment_id = await open_payment(kassa, "9.00")
    await page.goto(pay_links.link_path(kassa.settings, payment_id))
    await fill_card(page, FOUR_TWO)
    await page.get_by_test_id("pay-submit").click()
    await expect(page.get_by_test_id("pay-status")).to_have_text("SUCCEEDED")

    # when
    await page.reload()

    # then
    await expect(page.get_by_test_id("pay-status")).to_have_text("SUCCEEDED")
    await expect(page.get_by_test_id("pay-amount")).to_have_text("9.00 USD")
    await expect(page.get_by_test_id("pay-submit")).to_have_count(0)
    await expect(page.get_by_test_id("card-element")).to_have_count(0)
    await look(page, tmp_path, "pay-paid")


async def test_a_declined_card_on_the_link_says_why_and_another_card_pays(
    page: Page, kassa: Kassa
) -> None:
    # given
    _, payment_id = await open_payment(kassa, "7.00")
    await page.goto(pay_links.link_path(kassa.settings, payment_id))
    await fill_card(page, DECLINED)

    # when
    await page.get_by_test_id("pay-submit").click()

    # then
    await expect(page.get_by_test_id("pay-status")).to_have_text(
        "FAILED: Your card was declined.", timeout=PAID_WITHIN_MS
    )
    await fill_card(page, FOUR_TWO)
    await page.get_by_test_id("pay-submit").click()
    await expect(page.get_by_test_id("pay-status")).to_have_text("SUCCEEDED")


async def test_a_tampered_link_shows_a_clear_message_and_no_data(
    page: Page, kassa: Kassa, tmp_path: Path
) -> None:
    # given
    _, payment_id = await open_payment(kassa, "11.00")
    link = pay_links.link_path(kassa.settings, payment_id)
    other = uuid.uuid4().hex
    tampered = link.replace(payment_id.hex, other)

    # when
    response = await page.goto(tampered)

    # then
    assert response is not None and response.status == 404
    await expect(page.get_by_test_id("pay-problem")).to_have_text("This payment link is not valid.")
    for testid in ("pay-amount", "pay-submit", "card-element", "pay-status"):
        await expect(page.get_by_test_id(testid)).to_have_count(0)
    assert "11.00" not in await page.content()
    await look(page, tmp_path, "pay-tampered")


async def test_an_expired_link_says_so_and_shows_no_data(page: Page, kassa: Kassa) -> None:
    # given
    _, payment_id = await open_payment(kassa, "12.00")
    days_ago = time.time() - (kassa.settings.pay_link_days + 1) * 86400
    link = pay_links.link_path(kassa.settings, payment_id, now=days_ago)

    # when
    response = await page.goto(link)

    # then
    assert response is not None and response.status == 410
    await expect(page.get_by_test_id("pay-problem")).to_contain_text("expired")
    await expect(page.get_by_test_id("pay-amount")).to_have_count(0)
