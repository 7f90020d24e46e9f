"""The storefront's plans, subscriptions and invoices in Chromium: subscribing to a monthly
plan with a card, a renewal the bank declines (the local Stripe server's demo control),
its retry link from the mail paid on `/pay`, a renewal paid, the invoices downloaded as PDFs,
and cancelling at the period's end."""

from __future__ import annotations

import asyncio
import io
import os
import re
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from playwright.async_api import Page, expect
from pypdf import PdfReader

from kassa.models import StripeEvent, StripeEventStatus
from kassa.services import storefront
from tests.browser.pages import FOUR_TWO, PAID_WITHIN_MS, fill_card, look
from tests.browser.support import Traffic
from tests.e2e.test_recovery import SET_BILLING_EMAIL, SUBJECT
from tests.support import Inbox, Kassa

PLAN = "standard-monthly"  # 标准包 Standard: 1,100 credits for 100.00 CNY a month
BILLING = "billing-plans@demo.kassa.test"
DEMO_ORGANIZATION = """query { viewer { organizations { organization {
  id paymentMethods { id } subscriptions { status plan { code } } } } } }"""
DETACH = """mutation Detach($input: PaymentMethodInput!) {
  detachPaymentMethod(input: $input) { __typename } }"""


async def _demo_organization_without_cards(kassa: Kassa) -> str:
    """The storefront's organization, its saved cards removed (so the page's card field
    pays) and its billing address set (where retry links go)."""
    token = storefront.visitor_token(kassa.settings)
    body = await kassa.gql(DEMO_ORGANIZATION, {}, token)
    organization = body["data"]["viewer"]["organizations"][0]["organization"]
    live = [s for s in organization["subscriptions"] if s["status"] in ("ACTIVE", "PAST_DUE")]
    assert not [s for s in live if s["plan"]["code"] == PLAN], "one subscription per plan"
    for card in organization["paymentMethods"]:
        await kassa.gql(DETACH, {"input": {"paymentMethodId": card["id"]}}, token)
    variables = {"input": {"organizationId": organization["id"], "email": BILLING}}
    assert (await kassa.gql(SET_BILLING_EMAIL, variables, token))["data"]["setBillingEmail"]
    return str(organization["id"])


async def _credits(page: Page) -> int:
    return int((await page.get_by_test_id("credits-balance").inner_text()).replace(",", ""))


async def _invoice_numbers(page: Page) -> list[str]:
    """The numbers the Invoices table shows, newest first."""
    cells = page.get_by_test_id("invoice-row").locator("td.number")
    return [number.strip() for number in await cells.all_inner_texts()]


async def _events_settled(since: datetime, quiet_seconds: float = 1.5) -> None:
    """Waits until kassa has handled every Stripe event since `since` and none has come for
    `quiet_seconds` (the local server sends a renewal's events one after another)."""
    deadline = time.monotonic() + 20
    seen, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        received = StripeEvent.filter(received_at__gte=since)
        count = await received.count()
        pending = await received.filter(status=StripeEventStatus.PENDING).exists()
        if count != seen or pending:
            seen, quiet_since = count, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_seconds:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("kassa still handling Stripe events after 20 s")


def _retry_link(smtp: Inbox) -> str:
    mails: list[EmailMessage] = smtp.to(BILLING, SUBJECT)
    assert mails, f"no retry mail to {BILLING}"
    text = mails[-1].get_body(preferencelist=("plain",))
    assert text is not None
    found = re.search(r"http://\S+/pay/\S+", text.get_content())
    assert found is not None, text.get_content()
    return found.group(0)


async def _section(page: Page, testid: str, folder: Path, name: str) -> None:
    """A screenshot of one section of the page (its panel), in `folder` or in
    KASSA_SCREENSHOTS when set (as `look` does)."""
    wanted = os.environ.get("KASSA_SCREENSHOTS")
    folder = Path(wanted) if wanted else folder
    panel = page.locator("section.panel").filter(has=page.get_by_test_id(testid))
    await panel.screenshot(path=folder / f"{name}.png")


async def test_subscribe_renew_declined_pay_the_mailed_link_renew_download_and_cancel(
    page: Page, kassa: Kassa, smtp: Inbox, traffic: Traffic, tmp_path: Path
) -> None:
    # given: the storefront, no saved card, and the standard plan on offer in Chinese
    started = datetime.now(UTC)
    await _demo_organization_without_cards(kassa)
    await page.goto("/")
    offer = page.get_by_test_id(f"plan-{PLAN}")
    await expect(offer).to_contain_text("标准包")
    await expect(offer).to_contain_text("1,100 credits")
    await expect(offer).to_contain_text("100.00 CNY / month")
    await expect(page.get_by_test_id("credits-balance")).to_have_text(re.compile(r"^-?[\d,]+$"))
    before = await _credits(page)
    await fill_card(page, FOUR_TWO)

    # when: subscribing with the card entered
    await offer.get_by_test_id("subscribe").click()

    # then: ACTIVE, its first period's credits on the page without a reload
    # (the one live 标准包 row; ended ones from earlier tests may be listed beside it)
    live = page.get_by_test_id("subscription-row").filter(has_text="标准包")
    live = live.filter(has=page.get_by_test_id("cancel-subscription"))
    await expect(live.get_by_test_id("subscription-status")).to_have_text(
        "ACTIVE", timeout=PAID_WITHIN_MS
    )
    subscription_id = await live.get_attribute("data-subscription-id")
    row = page.locator(f'[data-subscription-id="{subscription_id}"]')
    status = row.get_by_test_id("subscription-status")
    credits = page.get_by_test_id("credits-balance")
    await expect(credits).to_have_text(f"{before + 1100:,}", timeout=PAID_WITHIN_MS)
    first_invoice = (await _invoice_numbers(page))[0]
    period_end = await row.locator("td.when").inner_text()

    # when: the next renewal is declined by the bank
    await row.get_by_test_id("simulate-declined-renewal").click()

    # then: PAST_DUE, no credits and no invoice for the unpaid period, a retry link mailed
    await expect(status).to_have_text("PAST_DUE", timeout=PAID_WITHIN_MS)
    await expect(row.locator("td.when")).not_to_have_text(period_end)
    await _section(page, "subscriptions", tmp_path, "subscriptions-past-due")
    await smtp.wait_for(BILLING, SUBJECT)
    link = _retry_link(smtp)
    assert await _credits(page) == before + 1100
    assert (await _invoice_numbers(page))[0] == first_invoice

    # when: whoever got the mail pays on kassa's payment page
    await page.goto(link)
    await expect(page.get_by_test_id("pay-amount")).to_have_text("100.00 CNY")
    await fill_card(page, FOUR_TWO)
    await page.get_by_test_id("pay-submit").click()
    await expect(page.get_by_test_id("pay-status")).to_have_text(
        "SUCCEEDED", timeout=PAID_WITHIN_MS
    )

    # then: back on the storefront, ACTIVE again and one more period's credits
    await page.goto("/")
    await expect(status).to_have_text("ACTIVE", timeout=PAID_WITHIN_MS)
    await expect(credits).to_have_text(f"{before + 2200:,}", timeout=PAID_WITHIN_MS)
    period_end = await row.locator("td.when").inner_text()

    # when: the period after it renews and the card pays
    await row.get_by_test_id("simulate-renewal").click()

    # then: the next period, still ACTIVE, its credits
    await expect(row.locator("td.when")).not_to_have_text(period_end, timeout=PAID_WITHIN_MS)
    await expect(credits).to_have_text(f"{before + 3300:,}", timeout=PAID_WITHIN_MS)
    await expect(status).to_have_text("ACTIVE")

    # then: once every event the local server sent is handled, each paid period granted once
    # and has one invoice (the declined attempt none), also after a reload
    await _events_settled(started)
    await page.reload()
    await expect(credits).to_have_text(f"{before + 3300:,}")
    numbers = await _invoice_numbers(page)
    assert numbers.index(first_invoice) == 2, numbers
    unhandled = StripeEvent.filter(
        received_at__gte=started, status__in=[StripeEventStatus.FAILED, StripeEventStatus.DEAD]
    )
    assert await unhandled.values_list("type", "last_error") == []

    # when: downloading the newest invoice (the renewal's)
    newest = page.get_by_test_id("invoice-row").first
    async with page.expect_download() as download_info:
        await newest.get_by_test_id("download-invoice").click()
    download = await download_info.value

    # then: saved as <number>.pdf, showing its number, amount and the plan's Chinese name
    assert download.suggested_filename == f"{numbers[0]}.pdf"
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    text = "\n".join(
        page_.extract_text() for page_ in PdfReader(io.BytesIO(saved.read_bytes())).pages
    )
    assert numbers[0] in text
    assert "100.00" in text
    assert "标准包" in text

    # when: cancelling (at the end of the period paid for)
    page.once("dialog", lambda dialog: dialog.accept())
    await row.get_by_test_id("cancel-subscription").click()

    # then: ACTIVE until then, marked as ending, no second cancel
    await expect(row.get_by_test_id("cancel-at-period-end")).to_be_visible()
    await expect(status).to_have_text("ACTIVE")
    await expect(row.get_by_test_id("cancel-subscription")).to_have_count(0)
    await _section(page, "subscriptions", tmp_path, "subscriptions-cancelling")

    # when: that period ends (the demo's renewal): it ends instead of renewing
    await row.get_by_test_id("simulate-renewal").click()

    # then: CANCELED, no renewal buttons, nothing more charged or granted
    await expect(status).to_have_text("CANCELED", timeout=PAID_WITHIN_MS)
    await expect(row.get_by_role("button")).to_have_count(0)
    await _events_settled(started)
    await page.reload()
    await expect(status).to_have_text("CANCELED")
    await expect(credits).to_have_text(f"{before + 3300:,}")
    assert await _invoice_numbers(page) == numbers
    assert traffic.errors == []

    for testid, name in (
        ("plan-status", "plans"),
        ("subscriptions", "subscriptions"),
        ("invoices", "invoices"),
    ):
        await _section(page, testid, tmp_path, name)
    await look(page, tmp_path, "storefront-plans")
