"""`/v1/vector_stores` with the official openai client over real HTTP (fake engines):
create with files, background ingestion to `completed`, file status and errors, lists and
their cursors, search with filters and thresholds, the parsed content, updates, deletes,
per-org isolation, and bad input as OpenAI-shaped 400s."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from modelmint.api import create_app
from tests.business_helpers import business_settings, first_admin_key
from tests.helpers import fake_pool, running_server

POLICY = (
    "退货政策：商品签收后七天内可以无理由退货，运费由买家承担。\n\n"
    "Refunds are paid to the original card within five working days."
)
SHIPPING = (
    "Shipping: orders leave the warehouse in Hangzhou within 48 hours.\n\n"
    "国际快递通常需要十到十五个工作日。"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:
    settings = business_settings(tmp_path_factory.mktemp("stores"))
    admin_key = first_admin_key(settings)
    with running_server(create_app(settings, pool=fake_pool())) as url:
        headers = {"Authorization": f"Bearer {admin_key}"}
        keys = {}
        with httpx.Client(base_url=url, headers=headers) as http:
            for org in ("acme", "globex"):
                assert http.post("/admin/orgs", json={"name": org}).status_code == 201
                keys[org] = http.post("/admin/keys", json={"org": org}).json()["key"]
        yield url, keys


def client(served, org: str) -> openai.OpenAI:
    url, keys = served
    return openai.OpenAI(base_url=url + "/v1", api_key=keys[org], max_retries=0)


def upload(oai: openai.OpenAI, name: str, text: str | bytes) -> str:
    content = text.encode() if isinstance(text, str) else text
    return oai.files.create(file=(name, content), purpose="assistants").id


def wait_ready(oai: openai.OpenAI, store_id: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        store = oai.vector_stores.retrieve(store_id)
        if store.status == "completed":
            return store
        time.sleep(0.1)
    raise AssertionError(f"{store_id} still {store.status}: {store.file_counts}")


def test_create_ingest_and_search(served):
    oai = client(served, "acme")
    files = [upload(oai, "policy.md", POLICY), upload(oai, "shipping.txt", SHIPPING)]
    store = oai.vector_stores.create(name="support", file_ids=files, metadata={"team": "cs"})
    assert store.id.startswith("vs_") and store.object == "vector_store"
    assert (store.name, store.metadata, store.file_counts.total) == ("support", {"team": "cs"}, 2)
    ready = wait_ready(oai, store.id)
    assert ready.file_counts.completed == 2 and ready.usage_bytes > 0
    page = oai.vector_stores.search(store.id, query="退货 七天", max_num_results=3)
    results = list(page)
    assert results and results[0].filename == "policy.md"
    assert results[0].content[0].type == "text" and "七天" in results[0].content[0].text
    assert all(0 < r.score <= 1 for r in results)
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    english = list(oai.vector_stores.search(store.id, query="warehouse Hangzhou"))
    assert english[0].filename == "shipping.txt"


def test_files_attributes_filters_and_content(served):
    oai = client(served, "acme")
    store = oai.vector_stores.create(name="filtered")
    first = upload(oai, "a.txt", "Apples grow in the orchard behind the school.")
    second = upload(oai, "b.txt", "Apples are sold at the market on Sundays.")
    added = oai.vector_stores.files.create(store.id, file_id=first, attributes={"year": 2024})
    assert (added.id, added.status, added.vector_store_id) == (first, "in_progress", store.id)
    assert added.chunking_strategy.type == "static"
    oai.vector_stores.files.create(
        store.id,
        file_id=second,
        attributes={"year": 2025},
        chunking_strategy={
            "type": "static",
            "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 50},
        },
    )
    wait_ready(oai, store.id)
    found = oai.vector_stores.search(
        store.id, query="apples", filters={"type": "gte", "key": "year", "value": 2025}
    )
    assert [r.file_id for r in found] == [second]
    content = oai.vector_stores.files.content(file_id=first, vector_store_id=store.id)
    assert "orchard" in "".join(part.text for part in content)
    updated = oai.vector_stores.files.update(
        file_id=first, vector_store_id=store.id, attributes={"year": 2026}
    )
    assert updated.attributes == {"year": 2026}
    found = oai.vector_stores.search(
        store.id, query="apples", filters={"type": "eq", "key": "year", "value": 2026}
    )
    assert [r.file_id for r in found] == [first]
    listed = oai.vector_stores.files.list(store.id, filter="completed", limit=1)
    assert len(listed.data) == 1 and listed.has_more
    assert {f.id for f in oai.vector_stores.files.list(store.id, limit=1)} == {
        first,
        second,
    }
    gone = oai.vector_stores.files.delete(file_id=second, vector_store_id=store.id)
    assert (gone.id, gone.deleted, gone.object) == (second, True, "vector_store.file.deleted")
    assert [r.file_id for r in oai.vector_stores.search(store.id, query="apples")] == [first]


def test_a_file_that_cannot_be_parsed_fails_alone(served):
    oai = client(served, "acme")
    good = upload(oai, "good.txt", "The lighthouse keeper rings the bell at noon.")
    bad = upload(oai, "broken.pdf", b"%PDF-1.4 this is not really a pdf")
    odd = upload(oai, "picture.png", b"\x89PNG\r\n")
    store = oai.vector_stores.create(file_ids=[good, bad, odd])
    ready = wait_ready(oai, store.id)
    assert (ready.file_counts.completed, ready.file_counts.failed) == (1, 2)
    broken = oai.vector_stores.files.retrieve(file_id=bad, vector_store_id=store.id)
    assert broken.status == "failed" and broken.last_error.code == "invalid_file"
    assert "broken.pdf" in broken.last_error.message
    png = oai.vector_stores.files.retrieve(file_id=odd, vector_store_id=store.id)
    assert png.last_error.code == "unsupported_file" and ".txt" in png.last_error.message
    assert list(oai.vector_stores.search(store.id, query="lighthouse bell"))


def test_list_update_delete_and_deleting_the_file(served):
    oai = client(served, "globex")
    made = [oai.vector_stores.create(name=f"s{i}") for i in range(3)]
    first = oai.vector_stores.list(limit=2)
    assert [s.id for s in first.data] == [made[2].id, made[1].id] and first.has_more
    rest = oai.vector_stores.list(limit=2, after=first.data[-1].id)
    assert [s.id for s in rest.data] == [made[0].id] and not rest.has_more
    asc = oai.vector_stores.list(order="asc", limit=100)
    assert [s.id for s in asc.data][:3] == [m.id for m in made]
    renamed = oai.vector_stores.update(
        made[0].id, name="renamed", expires_after={"anchor": "last_active_at", "days": 7}
    )
    assert renamed.name == "renamed" and renamed.expires_after.days == 7
    assert renamed.expires_at == renamed.last_active_at + 7 * 86400
    file_id = upload(oai, "gone.txt", "A file that is deleted from the files API.")
    oai.vector_stores.files.create(made[1].id, file_id=file_id)
    wait_ready(oai, made[1].id)
    oai.files.delete(file_id)  # leaves every store that holds it
    assert oai.vector_stores.retrieve(made[1].id).file_counts.total == 0
    deleted = oai.vector_stores.delete(made[2].id)
    assert (deleted.id, deleted.deleted, deleted.object) == (
        made[2].id,
        True,
        "vector_store.deleted",
    )
    with pytest.raises(openai.NotFoundError):
        oai.vector_stores.retrieve(made[2].id)


def test_another_orgs_stores_and_files_are_404(served):
    acme, globex = client(served, "acme"), client(served, "globex")
    secret = upload(acme, "secret.txt", "The vault code is 4417.")
    store = acme.vector_stores.create(file_ids=[secret])
    wait_ready(acme, store.id)
    with pytest.raises(openai.NotFoundError):
        globex.vector_stores.retrieve(store.id)
    with pytest.raises(openai.NotFoundError):
        globex.vector_stores.search(store.id, query="vault code")
    with pytest.raises(openai.NotFoundError):
        globex.vector_stores.files.retrieve(file_id=secret, vector_store_id=store.id)
    with pytest.raises(openai.NotFoundError):
        globex.vector_stores.delete(store.id)
    own = globex.vector_stores.create(name="mine")
    with pytest.raises(openai.NotFoundError):  # another org's file cannot be added
        globex.vector_stores.files.create(own.id, file_id=secret)
    assert acme.vector_stores.retrieve(store.id).file_counts.completed == 1


@pytest.mark.parametrize(
    ("body", "param_word"),
    [
        ({"query": ""}, "query"),
        ({"query": "x", "max_num_results": 51}, "max_num_results"),
        ({"query": "x", "filters": {"type": "near", "key": "a", "value": 1}}, "filters"),
        ({"query": "x", "ranking_options": {"score_threshold": 2}}, "score_threshold"),
    ],
)
def test_bad_searches_are_400s(served, body, param_word):
    url, keys = served
    oai = client(served, "acme")
    store = oai.vector_stores.create(name="bad input")
    answer = httpx.post(
        f"{url}/v1/vector_stores/{store.id}/search",
        json=body,
        headers={"Authorization": f"Bearer {keys['acme']}"},
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error" and param_word in str(error)


def test_bad_chunking_and_metadata_are_400s(served):
    oai = client(served, "acme")
    file_id = upload(oai, "x.txt", "some text")
    with pytest.raises(openai.BadRequestError, match="half"):
        oai.vector_stores.create(
            file_ids=[file_id],
            chunking_strategy={
                "type": "static",
                "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 101},
            },
        )
    with pytest.raises(openai.BadRequestError, match="max_chunk_size_tokens"):
        oai.vector_stores.create(
            file_ids=[file_id],
            chunking_strategy={
                "type": "static",
                "static": {"max_chunk_size_tokens": 99, "chunk_overlap_tokens": 0},
            },
        )
    with pytest.raises(openai.BadRequestError, match="16"):
        oai.vector_stores.create(metadata={f"k{i}": "v" for i in range(17)})
    with pytest.raises(openai.NotFoundError):
        oai.vector_stores.create(file_ids=["file-missing"])


def test_file_batches(served):
    oai = client(served, "acme")
    store = oai.vector_stores.create(name="batches")
    ids = [upload(oai, f"n{i}.txt", f"Note {i}: the meeting is on day {i}.") for i in range(3)]
    batch = oai.vector_stores.file_batches.create_and_poll(
        vector_store_id=store.id, file_ids=ids, attributes={"kind": "note"}
    )
    assert batch.id.startswith("vsfb_") and batch.object == "vector_store.files_batch"
    assert batch.status == "completed" and batch.file_counts.completed == 3
    listed = oai.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id)
    assert {f.id for f in listed} == set(ids)
    assert all(f.attributes == {"kind": "note"} for f in listed)
    uploaded = oai.vector_stores.file_batches.upload_and_poll(
        store.id, files=[("extra.md", b"# Extra\n\nAn extra note.")]
    )
    assert uploaded.file_counts.completed == 1
    assert oai.vector_stores.retrieve(store.id).file_counts.completed == 4
    late = oai.vector_stores.file_batches.create(
        vector_store_id=store.id, file_ids=[upload(oai, "late.txt", "Late note " * 500)]
    )
    cancelled = oai.vector_stores.file_batches.cancel(late.id, vector_store_id=store.id)
    assert cancelled.status == "cancelled"
    assert cancelled.file_counts.in_progress == 0
    other = client(served, "globex")
    with pytest.raises(openai.NotFoundError):
        other.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id)


def test_files_past_the_ingestion_limits_fail_alone_naming_them(served, monkeypatch):
    from modelmint.services import ingestion

    oai = client(served, "acme")
    monkeypatch.setattr(ingestion, "MAX_FILE_BYTES", 200)
    big = upload(oai, "big.txt", "word " * 100)
    small = upload(oai, "small.txt", "A small file about lamps.")
    store = oai.vector_stores.create(file_ids=[big, small])
    ready = wait_ready(oai, store.id)
    assert (ready.file_counts.completed, ready.file_counts.failed) == (1, 1)
    failed = oai.vector_stores.files.retrieve(file_id=big, vector_store_id=store.id)
    assert "200 bytes" in failed.last_error.message
    monkeypatch.setattr(ingestion, "MAX_FILE_BYTES", 10**9)
    monkeypatch.setattr(ingestion, "MAX_CHUNKS", 2)
    many = upload(oai, "many.txt", "\n\n".join(f"Paragraph {i}. " + "text " * 150
                                               for i in range(5)))  # fmt: skip
    crowded = oai.vector_stores.create(file_ids=[many])
    wait_ready(oai, crowded.id)
    failed = oai.vector_stores.files.retrieve(file_id=many, vector_store_id=crowded.id)
    assert failed.status == "failed" and "at most 2" in failed.last_error.message
