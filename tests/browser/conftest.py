"""Browser tests: Playwright driving Debian's Chromium against the session's kassa server.

Playwright never downloads a browser here: it starts the system's Chromium by its path
(KASSA_TEST_CHROMIUM, else /usr/bin/chromium). Without one, every test in this folder is
skipped and the summary says so in one line, with how to get it. Playwright's async API runs
in the session's event loop, the same loop that serves kassa under uvicorn.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Generator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Playwright, async_playwright

from kassa.demo.local_stripe import LocalStripe
from tests.browser.support import WIDE, Traffic
from tests.support import Kassa

CHROMIUM = Path(os.environ.get("KASSA_TEST_CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking flags Chromium calls home at every start, and this
# machine's closed network refuses it many times over. Playwright itself adds --headless
# and a new empty --user-data-dir for each launch.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
]
NO_CHROMIUM = f"no Chromium at {CHROMIUM}: apt-get install chromium"
HERE = Path(__file__).resolve().parent

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.access(CHROMIUM, os.X_OK):
        return
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.skip(reason=NO_CHROMIUM))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keeps each phase's report on the test, so its page can tell whether it failed."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    if report.skipped and isinstance(report.longrepr, tuple) and NO_CHROMIUM in report.longrepr[2]:
        # One place for all of them, so the summary says it on one line, not one per file.
        report.longrepr = (str(Path(__file__)), 0, NO_CHROMIUM)
    return report


@pytest.fixture(scope="session")
def chromium() -> Path:
    return CHROMIUM


@pytest.fixture(scope="session")
async def playwright(chromium: Path) -> AsyncIterator[Playwright]:
    async with async_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
async def browser(playwright: Playwright, chromium: Path) -> AsyncIterator[Browser]:
    browser = await playwright.chromium.launch(
        executable_path=chromium, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    await browser.close()


@pytest.fixture(scope="session")
def kassa_url(kassa: Kassa) -> str:
    """kassa's origin, e.g. http://127.0.0.1:41234 (no trailing slash)."""
    return str(kassa.http.base_url).rstrip("/")


@pytest.fixture(scope="session")
def stripe_origin(local_stripe: LocalStripe) -> str:
    """The local Stripe-compatible server's origin: its Stripe.js and the API it calls."""
    return local_stripe.api_base


@pytest.fixture
async def page(
    browser: Browser, kassa_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Page]:
    """A fresh page (own cookies and storage) 1280 px wide; paths are relative to kassa.
    When the test fails, its screenshot is saved in the test's tmp_path."""
    context = await browser.new_context(base_url=kassa_url, viewport=WIDE)
    page = await context.new_page()
    yield page
    call = request.node.stash.get(_REPORTS, {}).get("call")
    if call is not None and call.failed:
        path = tmp_path / "failure.png"
        await page.screenshot(path=path, full_page=True)
        call.sections.append(("screenshot", str(path)))
    await context.close()


@pytest.fixture
def traffic(page: Page) -> Traffic:
    """Records the page's requests, WebSockets, console errors and uncaught errors."""
    seen = Traffic()
    page.on("request", seen.request)
    page.on("websocket", seen.websocket)
    page.on("console", seen.console)
    page.on("pageerror", seen.page_error)
    return seen
