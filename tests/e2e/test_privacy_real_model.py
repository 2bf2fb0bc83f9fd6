"""redact_model mode end to end on the real default chat model (SmolLM2), over real HTTP
with the official openai client: the model sees placeholders, the caller never does, and a
placeholder the model repeats reaches the caller as the real value."""

from __future__ import annotations

import json
import os
import time

import httpx
import openai
import pytest
from sqlalchemy import select

from modelmint.api import create_app
from modelmint.privacy import bodies
from modelmint.services import admin
from modelmint.store.tables import request_bodies
from modelmint.tenancy import revisions
from tests.business_helpers import business_settings
from tests.helpers import running_server

pytestmark = pytest.mark.real_model

PHONE = "13812345678"
EMAIL = "zhang.wei@example.cn"
# what each prompt is, and what the model gets instead; SmolLM2 at temperature 0 answers
# the second by repeating "<PHONE_1>", which the caller must get back as the number
PROMPTS = {
    f"Repeat exactly: call me at {PHONE} or mail {EMAIL}": (
        "Repeat exactly: call me at <PHONE_1> or mail <EMAIL_1>"
    ),
    f"Echo back: {PHONE} {EMAIL}": "Echo back: <PHONE_1> <EMAIL_1>",
}
FRAGMENTS = ("<PHONE_", "<EMAIL_", "PHONE_1", "EMAIL_1")


def _wait_caught_up(platform) -> None:
    latest = platform.infra.db.run(revisions.current)
    deadline = time.monotonic() + 5
    while platform.infra.directory.revision < latest:
        assert time.monotonic() < deadline, "the directory did not see the latest revision"
        time.sleep(0.02)


def _stored(platform, org_id: str, count: int) -> list[tuple[str, str]]:
    deadline = time.monotonic() + 10
    while platform.infra.db.run(bodies.count_bodies, org_id) < count:
        assert time.monotonic() < deadline, "the bodies were not stored"
        time.sleep(0.05)

    def read(connection):
        rows = connection.execute(
            select(request_bodies.c.request_id)
            .where(request_bodies.c.org_id == org_id)
            .order_by(request_bodies.c.created_at)
        ).scalars()
        return [bodies.read_body(connection, platform.infra.keyring, r) for r in rows]

    return platform.infra.db.run(read)


def test_redact_model_on_the_real_model(tmp_path):
    threads = int(os.environ.get("MODELMINT_TEST_THREADS", "2"))
    settings = business_settings(
        tmp_path, threads=threads, load_models=["smollm2"], purge_interval_seconds=0
    )
    app = create_app(settings)
    with running_server(app) as base:
        platform = app.state.modelmint.platform
        admin_key = platform.infra.db.run(admin.init_admin, platform.infra.secret, True)["key"]
        headers = {"Authorization": f"Bearer {admin_key}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as boss:
            org = boss.post("/admin/orgs", json={"name": "acme"}).json()
            key = boss.post("/admin/keys", json={"org": "acme"}).json()["key"]
            policy = {"store_bodies": True, "pii_mode": "redact_model"}
            assert boss.put("/admin/orgs/acme/privacy", json=policy).status_code == 200
        _wait_caught_up(platform)

        answers: dict[str, tuple[str, str]] = {}
        with openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0) as client:
            for prompt in PROMPTS:
                ask = {
                    "model": "default",
                    "messages": [{"role": "user", "content": prompt}],
                    "temperature": 0,
                    "max_tokens": 40,
                }
                stream = client.chat.completions.create(**ask, stream=True)
                streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
                whole = client.chat.completions.create(**ask).choices[0].message.content
                answers[prompt] = (streamed, whole)
        stored = _stored(platform, org["id"], 2 * len(PROMPTS))

    for (prompt, seen), (streamed_body, whole_body) in zip(
        PROMPTS.items(), zip(stored[::2], stored[1::2], strict=True), strict=True
    ):
        streamed, whole = answers[prompt]
        assert streamed and whole
        for request_text, response_text in (streamed_body, whole_body):
            # the model saw placeholders, and nothing kept holds the values
            assert json.loads(request_text)["messages"][0]["content"] == seen
            assert PHONE not in request_text + response_text
            assert EMAIL not in request_text + response_text
        # the caller never sees a placeholder, whole or split across chunks
        for text in (streamed, whole):
            assert not [f for f in FRAGMENTS if f in text], text
        # temperature 0: one answer twice; what the model wrote decides what the caller gets
        engine_text = json.loads(streamed_body[1])["0"]
        assert json.loads(whole_body[1])["0"] == engine_text
        assert streamed == whole
        if "<PHONE_1>" in engine_text:
            assert PHONE in streamed, (engine_text, streamed)
        if "<EMAIL_1>" in engine_text:
            assert EMAIL in streamed, (engine_text, streamed)
        print(f"model wrote {engine_text!r}; the caller got {streamed!r}")
