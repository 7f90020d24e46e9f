"""KASSA_PERSISTED_QUERIES: with an allow-list, only its documents run."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from kassa.app import create_app
from kassa.config import ConfigurationError, Settings
from kassa.schema.guards import document_hash, load_persisted_queries
from tests.support import Kassa

VIEWER = "query Viewer { viewer { userId } }"


async def test_only_the_allowed_documents_run(
    kassa: Kassa, settings: Settings, database_url: str, tmp_path: Path
) -> None:
    member = await kassa.member()
    allowed = tmp_path / "persisted.json"
    allowed.write_text(json.dumps([VIEWER]))
    app = create_app(settings.with_overrides(persisted_queries_path=allowed), database_url)
    headers = {"Authorization": f"Bearer {member.token}"}
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": document_hash(VIEWER)}}
    unknown = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kassa.test") as client:
        whole = await client.post("/graphql", json={"query": VIEWER}, headers=headers)
        by_hash = await client.post("/graphql", json={"extensions": persisted}, headers=headers)
        other = await client.post(
            "/graphql", json={"query": "{ viewer { userId roles } }"}, headers=headers
        )
        missing = await client.post("/graphql", json={"extensions": unknown}, headers=headers)

    assert whole.json()["data"]["viewer"]["userId"] == "user-1"
    assert by_hash.json() == whole.json()
    assert other.json()["errors"][0]["message"] == "this server runs only its persisted queries"
    assert other.json()["data"] is None
    assert missing.json()["errors"][0]["message"] == "no persisted query has this sha256Hash"


def test_an_allow_list_whose_keys_are_not_its_hashes_is_refused(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"0" * 64: VIEWER}))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")

    with pytest.raises(ConfigurationError, match="not the sha256"):
        load_persisted_queries(wrong)
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_persisted_queries(broken)
    scalar = tmp_path / "scalar.json"
    scalar.write_text("42")
    with pytest.raises(ConfigurationError, match="not a list or an object"):
        load_persisted_queries(scalar)
