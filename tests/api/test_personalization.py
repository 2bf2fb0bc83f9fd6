"""Personalization through the admin API: an org's and an end user's default
instructions and answer language reach /v1/ask and /v1/responses; bad values are 400s."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from modelmint.api import create_app
from modelmint.knowledge.evidence import NOT_FOUND
from tests.business_helpers import business_settings, first_admin_key
from tests.helpers import fake_pool, running_server


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    settings = business_settings(tmp_path_factory.mktemp("personal"))
    admin_key = first_admin_key(settings)
    with running_server(create_app(settings, pool=fake_pool(context_length=1024))) as url:
        admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"})
        assert admin.post("/admin/orgs", json={"name": "acme"}).status_code == 201
        key = admin.post("/admin/keys", json={"org": "acme"}).json()["key"]
        user = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        made = user.post(
            "/v1/files",
            files={"file": ("a.txt", b"The shop opens at 9:00.")},
            data={"purpose": "assistants"},
        ).json()["id"]
        user.post("/v1/vector_stores", json={"file_ids": [made]})
        yield admin, user
        admin.close()
        user.close()


def test_set_list_and_clear(served):
    admin, _ = served
    set_org = admin.put("/admin/orgs/acme/personalization",
                        json={"instructions": "Be brief.", "language": "en"})  # fmt: skip
    assert set_org.status_code == 200, set_org.text
    assert set_org.json()["language"] == "en" and set_org.json()["user"] == ""
    admin.put("/admin/orgs/acme/personalization", json={"user": "u-7", "language": "zh"})
    listed = admin.get("/admin/orgs/acme/personalization").json()["data"]
    assert [(p["user"], p["language"]) for p in listed] == [("", "en"), ("u-7", "zh")]
    admin.put("/admin/orgs/acme/personalization", json={"user": "u-7"})  # clears it
    listed = admin.get("/admin/orgs/acme/personalization").json()["data"]
    assert [p["user"] for p in listed] == [""]


def test_the_answer_language_follows_the_org_then_the_end_user(served):
    admin, user = served
    admin.put("/admin/orgs/acme/personalization", json={"language": "en"})
    question = {"question": "客服热线电话号码是多少？"}
    assert user.post("/v1/ask", json=question).json()["answer"] == NOT_FOUND["en"]
    admin.put("/admin/orgs/acme/personalization", json={"user": "u-9", "language": "zh"})
    asked = user.post("/v1/ask", json=question | {"user": "u-9"}).json()
    assert asked["answer"] == NOT_FOUND["zh"]


def test_default_instructions_reach_responses(served):
    admin, user = served
    admin.put("/admin/orgs/acme/personalization", json={})
    plain = user.post("/v1/responses", json={"input": "hi", "max_output_tokens": 16}).json()
    admin.put(
        "/admin/orgs/acme/personalization",
        json={"instructions": "You are the helpful assistant of the Acme shop in Leeds."},
    )
    told = user.post("/v1/responses", json={"input": "hi", "max_output_tokens": 16}).json()
    assert told["usage"]["input_tokens"] > plain["usage"]["input_tokens"]


@pytest.mark.parametrize(
    "body", [{"language": "fr"}, {"instructions": "x" * 4001}, {"user": "a\u202eb"}]
)
def test_bad_values_are_400s(served, body):
    admin, _ = served
    answer = admin.put("/admin/orgs/acme/personalization", json=body)
    assert answer.status_code in (400, 422), answer.text
