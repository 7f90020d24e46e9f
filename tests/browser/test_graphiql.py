"""GraphiQL at GET /graphql, from kassa's own files only: it renders and runs operations with
no internet, under a policy that names no other origin."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote_plus

from playwright.async_api import Page, expect

from tests.browser.support import Traffic, screenshots
from tests.support import Kassa

QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
RESPONSE = ".graphiql-response"
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"


async def open_graphiql(page: Page) -> None:
    await page.goto("/graphql")
    await expect(page.locator(QUERY_EDITOR)).to_be_visible()


async def type_into(page: Page, editor: str, text: str) -> None:
    """Replaces an editor's text the way a person does: select all, type."""
    await page.locator(editor).click()
    await page.keyboard.press("Control+A")
    await page.keyboard.press("Delete")
    # The editor closes brackets and quotes as they open; typing the closer steps over it.
    await page.keyboard.type(text)


async def set_query(page: Page, query: str) -> None:
    """Puts `query` in the editor and waits until GraphiQL has read it, which it does a moment
    later (it then also keeps it in the page's shareable link)."""
    editor = page.locator(QUERY_EDITOR)
    await editor.evaluate("(element, query) => element.CodeMirror.setValue(query)", query)
    await expect(page).to_have_url(re.compile(r"\?query=" + re.escape(quote_plus(query))))


async def run(page: Page) -> None:
    await page.locator(".graphiql-execute-button").click()


async def test_graphiql_runs_a_query_offline(
    page: Page, traffic: Traffic, kassa_url: str, tmp_path: Path
) -> None:
    # given
    await open_graphiql(page)

    # when
    await set_query(page, "{ creditPackages { code credits } }")
    await run(page)

    # then
    await expect(page.locator(RESPONSE)).to_contain_text('"code": "standard"')
    await screenshots(page, tmp_path, "graphiql")
    assert traffic.foreign(kassa_url) == []
    assert any(url.endswith("/graphiql.min.js") for url in traffic.urls)
    assert traffic.errors == []


async def test_graphiql_sends_the_headers_editors_authorization(
    page: Page, traffic: Traffic, kassa: Kassa, kassa_url: str
) -> None:
    # given
    token = kassa.token("org-graphiql", sub="graphiql-user")
    await open_graphiql(page)
    await page.get_by_role("button", name="Headers").click()

    # when
    await type_into(page, HEADERS_EDITOR, json.dumps({"Authorization": f"Bearer {token}"}))
    await set_query(page, "{ viewer { userId } }")
    await run(page)

    # then
    await expect(page.locator(RESPONSE)).to_contain_text('"userId": "graphiql-user"')
    assert traffic.foreign(kassa_url) == []
    assert traffic.errors == []


async def test_graphiql_follows_a_subscription_over_kassas_own_websocket(
    page: Page, traffic: Traffic, kassa: Kassa, kassa_url: str
) -> None:
    # given
    member = await kassa.member()
    created = await kassa.top_up(member, "12.50")
    payment_id = created["payment"]["id"]
    await open_graphiql(page)
    await page.get_by_role("button", name="Headers").click()
    await type_into(page, HEADERS_EDITOR, json.dumps({"Authorization": f"Bearer {member.token}"}))

    # when
    await set_query(
        page,
        f'subscription {{ paymentUpdated(paymentId: "{payment_id}") {{ id status }} }}',
    )
    await run(page)

    # then
    await expect(page.locator(RESPONSE)).to_contain_text(f'"id": "{payment_id}"')
    sockets = [url for url in traffic.urls if url.startswith("ws")]
    assert sockets == [kassa_url.replace("http", "ws", 1) + "/graphql"]
    assert traffic.foreign(kassa_url) == []
    assert traffic.errors == []
