"""`/v1/files` with the official openai client over real HTTP: upload, list pages, retrieve,
content, delete; per-org isolation; the size limit; bad input as OpenAI-shaped 400s; the
bytes encrypted at rest."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from modelmint.api import create_app
from tests.business_helpers import business_settings, first_admin_key
from tests.helpers import fake_pool, running_server

LIMIT = 64 * 1024  # this server's MODELMINT_MAX_FILE_BYTES
ORG_LIMIT = 3 * LIMIT  # MODELMINT_MAX_ORG_FILES_BYTES
JSONL = (
    b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}'
    b"\n"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[str, dict[str, str], object]]:
    """A server with auth, two orgs with a key each: (url, {org: key}, settings)."""
    settings = business_settings(
        tmp_path_factory.mktemp("files"), max_file_bytes=LIMIT, max_org_files_bytes=ORG_LIMIT
    )
    admin_key = first_admin_key(settings)
    with running_server(create_app(settings, pool=fake_pool())) as url:
        headers = {"Authorization": f"Bearer {admin_key}"}
        keys = {}
        with httpx.Client(base_url=url, headers=headers) as http:
            for org in ("acme", "globex", "initech"):
                assert http.post("/admin/orgs", json={"name": org}).status_code == 201
                keys[org] = http.post("/admin/keys", json={"org": org}).json()["key"]
        yield url, keys, settings


def client(served, org: str) -> openai.OpenAI:
    url, keys, _ = served
    return openai.OpenAI(base_url=url + "/v1", api_key=keys[org], max_retries=0)


def test_upload_retrieve_content_delete(served):
    oai = client(served, "acme")
    made = oai.files.create(file=("train.jsonl", JSONL), purpose="fine-tune")
    assert made.id.startswith("file-") and made.object == "file"
    assert (made.bytes, made.filename, made.purpose) == (len(JSONL), "train.jsonl", "fine-tune")
    assert made.status == "processed" and made.expires_at is None
    assert oai.files.retrieve(made.id) == made
    assert oai.files.content(made.id).content == JSONL
    gone = oai.files.delete(made.id)
    assert (gone.id, gone.deleted) == (made.id, True)
    with pytest.raises(openai.NotFoundError, match=f"No such File object: {made.id}"):
        oai.files.retrieve(made.id)


def test_a_large_file_round_trips_over_several_chunks(served):
    oai = client(served, "acme")
    data = bytes(range(256)) * 200  # 51,200 bytes, not a multiple of anything
    made = oai.files.create(file=("blob.bin", data), purpose="user_data")
    assert oai.files.content(made.id).content == data
    oai.files.delete(made.id)


def test_list_pages_with_after_limit_order_and_purpose(served):
    oai = client(served, "globex")
    ids = [
        oai.files.create(file=(f"f{i}.txt", b"x" * (i + 1)), purpose=purpose).id
        for i, purpose in enumerate(["assistants", "fine-tune", "assistants", "user_data"])
    ]
    newest_first = [f.id for f in oai.files.list()]  # the SDK follows the pages itself
    assert newest_first == ids[::-1]
    page = oai.files.list(limit=2, order="asc")
    assert [f.id for f in page.data] == ids[:2] and page.has_more
    assert [f.id for f in page.get_next_page().data] == ids[2:]
    assert [f.id for f in oai.files.list(purpose="assistants", order="asc")] == [ids[0], ids[2]]
    for file_id in ids:
        oai.files.delete(file_id)


def test_another_orgs_file_is_not_found(served):
    mine = client(served, "acme").files.create(file=("a.txt", b"secret"), purpose="user_data")
    theirs = client(served, "globex")
    for call in (theirs.files.retrieve, theirs.files.content, theirs.files.delete):
        with pytest.raises(openai.NotFoundError):
            call(mine.id)
    assert mine.id not in [f.id for f in theirs.files.list()]
    assert client(served, "acme").files.content(mine.id).content == b"secret"


def test_a_file_over_the_limit_is_413_and_nothing_is_kept(served):
    oai = client(served, "acme")
    before = [f.id for f in oai.files.list()]
    with pytest.raises(openai.APIStatusError) as refused:
        oai.files.create(file=("big.bin", b"z" * (LIMIT + 1)), purpose="user_data")
    assert refused.value.status_code == 413
    assert "MODELMINT_MAX_FILE_BYTES" in refused.value.message
    assert [f.id for f in oai.files.list()] == before
    _, _, settings = served
    folder = settings.data_dir / "files"
    assert not list(folder.rglob("*.partial"))


def test_an_orgs_files_together_stay_within_their_limit(served):
    oai = client(served, "initech")
    chunk = b"q" * (60 * 1024)
    kept = [oai.files.create(file=(f"{i}.bin", chunk), purpose="user_data") for i in range(3)]
    with pytest.raises(openai.APIStatusError) as refused:
        oai.files.create(file=("more.bin", chunk), purpose="user_data")
    assert refused.value.status_code == 413
    assert "MODELMINT_MAX_ORG_FILES_BYTES" in refused.value.message
    assert len(oai.files.list().data) == 3
    oai.files.delete(kept[0].id)  # room again
    oai.files.create(file=("more.bin", chunk), purpose="user_data")


@pytest.mark.parametrize(
    ("fields", "files", "param"),
    [
        ({"purpose": "homework"}, {"file": ("a.txt", b"x")}, "purpose"),
        ({}, {"file": ("a.txt", b"x")}, "purpose"),
        ({"purpose": "user_data"}, None, "file"),
        ({"purpose": "user_data", "expires_after[anchor]": "created_at",
          "expires_after[seconds]": "5"}, {"file": ("a.txt", b"x")}, "expires_after"),
    ],
)  # fmt: skip
def test_bad_uploads_are_400s_that_name_the_field(served, fields, files, param):
    url, keys, _ = served
    headers = {"Authorization": f"Bearer {keys['acme']}"}
    response = httpx.post(url + "/v1/files", data=fields, files=files, headers=headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and param in (error["param"] or "")


def test_expiry_is_kept_and_reported(served):
    oai = client(served, "acme")
    made = oai.files.create(
        file=("t.txt", b"temporary"),
        purpose="user_data",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert made.expires_at == made.created_at + 3600
    oai.files.delete(made.id)


def test_the_bytes_are_encrypted_at_rest(served):
    marker = b"a very recognisable plaintext marker " * 4
    made = client(served, "acme").files.create(file=("m.txt", marker), purpose="user_data")
    _, _, settings = served
    (stored,) = [p for p in (settings.data_dir / "files").rglob(made.id)]
    assert b"recognisable" not in stored.read_bytes()
    assert len(stored.read_bytes()) > len(marker)  # nonce, tag and framing
