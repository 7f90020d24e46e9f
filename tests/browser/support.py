"""Helpers for browser tests: what a page loaded, and screenshots at a desktop's and a
phone's width."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import ConsoleMessage, Page, Request, ViewportSize, WebSocket

WIDE = ViewportSize(width=1280, height=800)
PHONE = ViewportSize(width=390, height=844)


@dataclass
class Traffic:
    """What one page asked for and complained about, to assert it stayed on kassa's origin."""

    urls: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def request(self, request: Request) -> None:
        self.urls.append(request.url)

    def websocket(self, socket: WebSocket) -> None:
        self.urls.append(socket.url)

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def page_error(self, error: Exception) -> None:
        self.errors.append(f"uncaught: {error}")

    def foreign(self, origin: str) -> list[str]:
        """Every URL not on `origin` (http or its ws) nor inline data."""
        mine = (origin + "/", origin.replace("http", "ws", 1) + "/", "data:")
        return [url for url in self.urls if not url.startswith(mine)]


async def screenshots(page: Page, folder: Path, name: str) -> list[Path]:
    """The page at 1280 px and at 390 px (a phone), saved as <name>-<width>.png."""
    paths = []
    for viewport in (WIDE, PHONE):
        await page.set_viewport_size(viewport)
        path = folder / f"{name}-{viewport['width']}.png"
        await page.screenshot(path=path)
        paths.append(path)
    await page.set_viewport_size(WIDE)
    return paths
