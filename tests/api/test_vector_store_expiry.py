"""A vector store past its expiry, through the official openai client and plain HTTP:
`status` expired, refused for search, new files and a new expiry with a 400 that says
what to do, its chunks deleted by the chore, and its name, metadata and file list kept."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import openai
import pytest
from sqlalchemy import func, select, update

from modelmint.core.ids import utcnow
from modelmint.store.tables import knowledge_chunks, vector_stores
from tests.business_helpers import business_settings, running

TEXT = "退货政策：商品签收后七天内可以无理由退货。\n\nRefunds reach the card within five days."


async def chunk_count(platform, store_id: str) -> int:
    query = select(func.count()).where(knowledge_chunks.c.vector_store_id == store_id)
    return await platform.infra.db.read(lambda c: c.execute(query).scalar_one())


async def ready_store(http, name: str) -> str:
    uploaded = await http.post(
        "/v1/files", data={"purpose": "assistants"}, files={"file": ("policy.md", TEXT.encode())}
    )
    body = {"name": name, "file_ids": [uploaded.json()["id"]],
            "expires_after": {"anchor": "last_active_at", "days": 1}}  # fmt: skip
    store = (await http.post("/v1/vector_stores", json=body)).json()
    for _ in range(300):
        found = (await http.get(f"/v1/vector_stores/{store['id']}")).json()
        if found["status"] == "completed":
            return store["id"]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{store['id']} is still {found['status']}")


async def test_an_expired_store_is_refused_and_its_chunks_are_purged(tmp_path):
    async with running(business_settings(tmp_path)) as business:
        await business.http.post("/admin/orgs", json={"name": "acme"})
        key = (await business.http.post("/admin/keys", json={"org": "acme"})).json()["key"]
        async with business.client(key) as http:
            expired, kept = await ready_store(http, "old"), await ready_store(http, "new")
            past = utcnow() - timedelta(days=2)
            age = update(vector_stores).where(vector_stores.c.id == expired)
            await business.platform.infra.db.write(
                lambda c: c.execute(age.values(last_active_at=past))
            )
            shown = (await http.get(f"/v1/vector_stores/{expired}")).json()
            assert shown["status"] == "expired" and shown["name"] == "old"

            oai = openai.AsyncOpenAI(base_url="http://localhost/v1", api_key=key, http_client=http)
            with pytest.raises(openai.BadRequestError, match="expired") as refused_search:
                await oai.vector_stores.search(expired, query="退货")
            assert refused_search.value.body["type"] == "invalid_request_error"
            with pytest.raises(openai.BadRequestError):
                await oai.vector_stores.files.create(vector_store_id=expired, file_id="file-x")
            assert (await oai.vector_stores.retrieve(expired)).status == "expired"
            search = await http.post(f"/v1/vector_stores/{expired}/search", json={"query": "退货"})
            assert search.status_code == 400 and "expired" in search.json()["error"]["message"]
            question = {"question": "退货", "vector_store_ids": [expired]}
            ask = await http.post("/v1/ask", json=question)
            assert ask.status_code == 400 and ask.json()["error"]["param"] == "vector_store_ids"
            more = await http.post(f"/v1/vector_stores/{expired}/files", json={"file_id": "file-x"})
            assert more.status_code == 400 and "create a new one" in more.text
            batch = {"file_ids": ["file-x"]}
            batches = await http.post(f"/v1/vector_stores/{expired}/file_batches", json=batch)
            assert batches.status_code == 400
            revive = {"expires_after": {"anchor": "last_active_at", "days": 30}}
            refused = await http.post(f"/v1/vector_stores/{expired}", json=revive)
            assert refused.status_code == 400
            assert refused.json()["error"]["param"] == "expires_after"
            renamed = await http.post(f"/v1/vector_stores/{expired}", json={"name": "archive"})
            assert renamed.status_code == 200 and renamed.json()["status"] == "expired"

            stores = business.app.state.modelmint.knowledge.stores
            before = await chunk_count(business.platform, expired)
            assert before > 0 and await chunk_count(business.platform, kept) > 0
            assert await stores.purge_expired() == before
            assert await chunk_count(business.platform, expired) == 0
            assert await chunk_count(business.platform, kept) > 0  # not expired: untouched
            assert await stores.purge_expired() == 0
            listed = (await http.get(f"/v1/vector_stores/{expired}/files")).json()["data"]
            assert len(listed) == 1
            fresh = await http.post(f"/v1/vector_stores/{kept}/search", json={"query": "退货"})
            assert fresh.status_code == 200 and fresh.json()["data"]
