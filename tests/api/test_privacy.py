"""Privacy through the HTTP API, on SQLite and PostgreSQL: block and redact modes, stored
bodies (encrypted, redacted as the policy says, erased and purged on request), the admin
endpoints' guards, failing closed when detection breaks, and the key check: a phone
number, a resident ID and a card number planted in requests appear nowhere on disk, in any
table, or in the logs. Disguised values and values split between a prompt and its
completion: test_privacy_disguises.py."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, inspect, select, text

from modelmint.api import create_app
from modelmint.core.ids import utcnow
from modelmint.core.logging import configure_logging
from modelmint.privacy import bodies
from modelmint.privacy.detect import luhn, valid_cn_id
from modelmint.services import admin
from modelmint.services.platform import Platform
from modelmint.store.tables import audit_log, request_bodies
from modelmint.tenancy import revisions
from tests.business_helpers import (
    BACKENDS,
    Business,
    business_settings,
    chat,
    database_url,
    ledger_rows,
    running,
)
from tests.helpers import fake_pool

PHONE = "13812345678"
CN_ID = "11010519491231002X"
CARD = "4111 1111 1111 1111"
EMAIL = "zhang.wei@example.cn"
PLANTED = f"Call me at {PHONE}, my ID is {CN_ID}, card {CARD}, mail {EMAIL} please"
VALUES = (PHONE, CN_ID, CARD, EMAIL)
TAGS = {"<PHONE_1>": PHONE, "<CN_ID_1>": CN_ID, "<CARD_1>": CARD, "<EMAIL_1>": EMAIL}
# every planted value as it was sent, and with its separators removed
NEEDLES = sorted({form for v in VALUES for form in (v, re.sub(r"[ \-]", "", v))})


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


def test_the_planted_values_are_valid():
    assert valid_cn_id(CN_ID) and luhn(CARD.replace(" ", ""))


# --- helpers -----------------------------------------------------------------------------


@asynccontextmanager
async def app_on(backend: str, tmp_path: Path) -> AsyncIterator[Business]:
    url = database_url(backend, tmp_path)
    settings = business_settings(tmp_path, database_url=url, purge_interval_seconds=0)
    async with running(settings) as business:
        yield business


async def member(business: Business, name: str, **policy) -> tuple[str, str]:
    """An org with an inference key, under `policy` (the default policy when empty)."""
    org = await business.org(name)
    key = await business.key(name)
    if policy:
        response = await business.http.put(f"/admin/orgs/{name}/privacy", json=policy)
        assert response.status_code == 200, response.text
        defaults = {"store_bodies": False, "pii_mode": "off", "retention_days": 30}
        assert response.json() == {"org_id": org["id"], **defaults, **policy}
    await business.caught_up()
    return org["id"], key["key"]


def assert_openai_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code and error["message"]
    return error


def sse_chunks(body: str) -> list[dict]:
    """The JSON chunks of an OpenAI-style event stream, up to `data: [DONE]`."""
    chunks, done = [], False
    for line in body.splitlines():
        field, _, data = line.partition(":")
        if field != "data":
            continue
        data = data.strip()
        if data == "[DONE]":
            done = True
            break
        chunks.append(json.loads(data))
    assert done, body
    assert not any("error" in c for c in chunks), body
    return chunks


def streamed_texts(body: str, key: str = "content") -> dict[int, str]:
    """Each choice's text from a streamed chat (`delta.content`) or completion (`text`)."""
    texts: dict[int, str] = {}
    for chunk in sse_chunks(body):
        for choice in chunk["choices"]:
            piece = choice["delta"].get("content") if key == "content" else choice.get("text")
            texts[choice["index"]] = texts.get(choice["index"], "") + (piece or "")
    return texts


async def wait_for_bodies(platform: Platform, org_id: str, count: int) -> None:
    deadline = time.monotonic() + 5
    while (stored := await platform.infra.db.read(bodies.count_bodies, org_id)) < count:
        assert time.monotonic() < deadline, f"{stored} of {count} bodies were stored"
        await asyncio.sleep(0.02)
    # a write queued after them has landed too, so nothing more is on its way
    assert await platform.infra.db.write(bodies.count_bodies, org_id) == count


def _read_org_bodies(connection, keyring, org_id: str) -> list[tuple[str, str]]:
    ids = connection.execute(
        select(request_bodies.c.request_id)
        .where(request_bodies.c.org_id == org_id)
        .order_by(request_bodies.c.created_at)
    ).scalars()
    return [bodies.read_body(connection, keyring, request_id) for request_id in ids]


async def stored_bodies(platform: Platform, org_id: str) -> list[tuple[str, str]]:
    return await platform.infra.db.read(_read_org_bodies, platform.infra.keyring, org_id)


def audits(connection, action: str) -> list:
    query = select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id)
    return list(connection.execute(query))


def fake_reply_to_prompt(prompt: str) -> str:
    """What the fake engine answers a completion: the prompt's words reversed."""
    return " ".join(reversed(prompt.split()))


# --- block mode ----------------------------------------------------------------------------


async def test_block_mode_refuses_pii_and_charges_nothing(backend, tmp_path):
    async with app_on(backend, tmp_path) as business:
        org_id, key = await member(business, "blocker", pii_mode="block")
        async with business.client(key) as client:
            refused = await client.post("/v1/chat/completions", json=chat(f"call me at {PHONE}"))
            error = assert_openai_error(refused, 400, "pii_detected")
            assert "PHONE" in error["message"] and PHONE not in error["message"]
            assert error["type"] == "invalid_request_error" and error["param"] == "messages"

            body = chat(f"ID {CN_ID} and card {CARD}", stream=True)
            error = assert_openai_error(
                await client.post("/v1/chat/completions", json=body), 400, "pii_detected"
            )
            assert "CARD" in error["message"] and "CN_ID" in error["message"]
            completion = {"model": "default", "prompt": f"mail {EMAIL}", "max_tokens": 5}
            error = assert_openai_error(
                await client.post("/v1/completions", json=completion), 400, "pii_detected"
            )
            assert "EMAIL" in error["message"] and error["param"] == "prompt"

            clean = await client.post("/v1/chat/completions", json=chat("hello there", 10))
            assert clean.status_code == 200, clean.text
            assert clean.json()["choices"][0]["message"]["content"] == "You said: hello there"
        rows = await business.platform.infra.db.write(ledger_rows, org_id)
        assert [(r.status, r.request_id) for r in rows] == [("ok", clean.headers["x-request-id"])]
        assert refused.headers["x-request-id"] not in {r.request_id for r in rows}


# --- redact_model ----------------------------------------------------------------------------


async def test_redact_model_gives_the_caller_values_and_storage_placeholders(backend, tmp_path):
    async with app_on(backend, tmp_path) as business:
        org_id, key = await member(business, "redactor", store_bodies=True, pii_mode="redact_model")
        async with business.client(key) as client:
            whole = await client.post("/v1/chat/completions", json=chat(PLANTED, 60))
            assert whole.status_code == 200, whole.text
            assert whole.json()["choices"][0]["message"]["content"] == f"You said: {PLANTED}"

            body = chat(PLANTED, 60, stream=True, n=2, stream_options={"include_usage": True})
            streamed = await client.post("/v1/chat/completions", json=body)
            assert streamed.status_code == 200, streamed.text
            assert streamed_texts(streamed.text) == {
                0: f"You said: {PLANTED}",
                1: f"You said: {PLANTED}",
            }

            completion = {"model": "default", "prompt": PLANTED, "max_tokens": 60}
            answer = await client.post("/v1/completions", json=completion)
            assert answer.status_code == 200, answer.text
            # the model reversed the words of the redacted prompt; each tag is one word
            redacted = PLANTED
            for tag, value in TAGS.items():
                redacted = redacted.replace(value, tag)
            expected = fake_reply_to_prompt(redacted)
            for tag, value in TAGS.items():
                expected = expected.replace(tag, value)
            assert answer.json()["choices"][0]["text"] == expected
            streamed = await client.post("/v1/completions", json={**completion, "stream": True})
            assert streamed_texts(streamed.text, "text") == {0: expected}

        await wait_for_bodies(business.platform, org_id, 4)
        for request_text, response_text in await stored_bodies(business.platform, org_id):
            for stored in (request_text, response_text):
                assert all(tag in stored for tag in TAGS), stored
                assert not any(needle in stored for needle in NEEDLES), stored
            assert json.loads(request_text)["model"] == "default"
            assert all("<PHONE_1>" in t for t in json.loads(response_text).values())


# --- the key check: planted values never reach disk, tables or logs ----------------------


@contextmanager
def logged_server(app) -> Iterator[str]:
    """uvicorn on a free port, logging through the root logger (so caplog sees it all)."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="debug", log_config=None, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def wait_caught_up(platform: Platform) -> None:
    latest = platform.infra.db.run(revisions.current)
    deadline = time.monotonic() + 5
    while platform.infra.directory.revision < latest:
        assert time.monotonic() < deadline, "the directory did not see the latest revision"
        time.sleep(0.02)


def leaks_in(blob: bytes) -> list[str]:
    return [needle for needle in NEEDLES if needle.encode() in blob]


def sqlite_files(tmp_path: Path) -> dict[str, bytes]:
    found = {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert "business.db" in found
    return found


def postgres_dump(url: str) -> dict[str, list[bytes]]:
    """Every row of every table: as `t::text`, and each value (bytea as its bytes)."""
    engine = create_engine(url)
    dump: dict[str, list[bytes]] = {}
    try:
        with engine.connect() as connection:
            for table in inspect(connection).get_table_names():
                quoted = connection.dialect.identifier_preparer.quote(table)
                rows = connection.execute(text(f"SELECT t::text FROM {quoted} t")).scalars()
                dump[table] = [row.encode() for row in rows]
                for row in connection.execute(text(f"SELECT * FROM {quoted}")):
                    for value in row:
                        raw = bytes(value) if isinstance(value, bytes | memoryview) else None
                        dump[table].append(raw if raw is not None else str(value).encode())
    finally:
        engine.dispose()
    return dump


SSE_LOGGER = "sse_starlette"
KEY_CHECK_MODES = {
    "plain": {"store_bodies": True, "pii_mode": "off"},
    "storage": {"store_bodies": True, "pii_mode": "redact_storage"},
    "model": {"store_bodies": True, "pii_mode": "redact_model"},
    "blocked": {"store_bodies": True, "pii_mode": "block"},
}


def _planted_requests(client: httpx.Client) -> int:
    """Every endpoint, streamed and not; returns how many answers were stored."""
    requests = [
        ("/v1/chat/completions", chat(PLANTED, 60)),
        ("/v1/chat/completions", chat(PLANTED, 60, stream=True)),
        ("/v1/chat/completions", chat(PLANTED, 60, stream=True, n=2)),
        (
            "/v1/chat/completions",
            {
                "model": "default",
                "max_tokens": 60,
                "messages": [
                    {"role": "system", "content": f"The customer's card is {CARD}."},
                    {"role": "user", "content": [{"type": "text", "text": PLANTED}]},
                ],
            },
        ),
        ("/v1/completions", {"model": "default", "prompt": PLANTED, "max_tokens": 60}),
        ("/v1/completions", {"model": "default", "prompt": [PLANTED, PHONE], "stream": True}),
    ]
    for path, body in requests:
        response = client.post(path, json=body)
        assert response.status_code == 200, response.text
        if body.get("stream"):
            sse_chunks(response.text)
    return len(requests)


def test_planted_values_reach_no_disk_table_or_log(backend, tmp_path, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "modelmint"):
        monkeypatch.setattr(logging.getLogger(name), "propagate", True)
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)
    url = database_url(backend, tmp_path)
    settings = business_settings(tmp_path, database_url=url, purge_interval_seconds=0)
    app = create_app(settings, pool=fake_pool(context_length=1024))
    with logged_server(app) as base:
        platform = app.state.modelmint.platform
        admin_key = platform.infra.db.run(admin.init_admin, platform.infra.secret, True)["key"]
        with httpx.Client(base_url=base, timeout=30) as http:
            http.headers["Authorization"] = f"Bearer {admin_key}"
            orgs: dict[str, tuple[str, str]] = {}
            for name, policy in KEY_CHECK_MODES.items():
                org_id = http.post("/admin/orgs", json={"name": name}).json()["id"]
                key = http.post("/admin/keys", json={"org": name}).json()["key"]
                assert http.put(f"/admin/orgs/{name}/privacy", json=policy).status_code == 200
                orgs[name] = (org_id, key)
            wait_caught_up(platform)
            for name, (org_id, key) in orgs.items():
                http.headers["Authorization"] = f"Bearer {key}"
                if name == "blocked":
                    refused = http.post("/v1/chat/completions", json=chat(PLANTED, 60))
                    assert_openai_error(refused, 400, "pii_detected")
                    continue
                expected = _planted_requests(http)
                deadline = time.monotonic() + 5
                while platform.infra.db.run(bodies.count_bodies, org_id) < expected:
                    assert time.monotonic() < deadline, f"{name}: the bodies were not stored"
                    time.sleep(0.02)
                assert platform.infra.db.run(bodies.count_bodies, org_id) == expected
                if name == "plain":  # kept whole, so encryption is all that hides them
                    kept = platform.infra.db.run(_read_org_bodies, platform.infra.keyring, org_id)
                    assert all(PHONE in request for request, _ in kept)
            # an unknown model named after a value: refused, and not logged either
            http.post("/v1/chat/completions", json={**chat("hi"), "model": f"m{PHONE}"})
        platform.infra.db.run(bodies.count_bodies)  # the writer has drained
        if backend == "sqlite":
            running_files = sqlite_files(tmp_path)
            assert any(b"plain" in blob for blob in running_files.values())  # the scan sees rows
        else:
            dump = postgres_dump(url)
            assert len(dump["request_bodies"]) >= 18 and any(b"plain" in r for r in dump["orgs"])
    if backend == "sqlite":
        for name, blob in {**running_files, **sqlite_files(tmp_path)}.items():
            assert not leaks_in(blob), (name, leaks_in(blob))
    else:
        for table, rows in dump.items():
            leaked = [r for r in rows if leaks_in(r)]
            assert not leaked, (table, leaked[:3])
    loggers = {record.name.split(".")[0] for record in caplog.records}
    assert {"modelmint", "uvicorn"} <= loggers, loggers  # the capture works
    assert any("/v1/chat/completions" in record.getMessage() for record in caplog.records)
    for record in caplog.records:
        if record.name.startswith(SSE_LOGGER):  # caplog lowers it; the server keeps it at INFO
            continue
        message = record.getMessage() + (record.exc_text or "")
        assert not leaks_in(message.encode()), (record.name, message)


# --- what is stored, and erasing and purging it ---------------------------------------------


async def test_bodies_are_not_stored_by_default(backend, tmp_path):
    async with app_on(backend, tmp_path) as business:
        default_id, default_key = await member(business, "default")
        redacting_id, redacting_key = await member(
            business, "redacting", store_bodies=False, pii_mode="redact_model"
        )
        for key in (default_key, redacting_key):
            async with business.client(key) as client:
                response = await client.post("/v1/chat/completions", json=chat(PLANTED, 60))
                assert response.status_code == 200
                streamed = await client.post(
                    "/v1/chat/completions", json=chat(PLANTED, 60, stream=True)
                )
                assert streamed_texts(streamed.text) == {0: f"You said: {PLANTED}"}
        # a write queued now lands after any the requests queued
        assert await business.platform.infra.db.write(bodies.count_bodies) == 0
        privacy = (await business.http.get("/admin/orgs/default/privacy")).json()
        assert privacy == {
            "org_id": default_id,
            "store_bodies": False,
            "pii_mode": "off",
            "retention_days": 30,
            "stored": 0,
        }
        rows = await business.platform.infra.db.read(ledger_rows, redacting_id)
        assert len(rows) == 2  # answered and billed, only not kept


async def test_erase_purge_rotate_and_bad_policies(backend, tmp_path):
    async with app_on(backend, tmp_path) as business:
        acme_id, acme_key = await member(business, "acme", store_bodies=True)
        other_id, other_key = await member(
            business, "other", store_bodies=True, pii_mode="redact_storage", retention_days=7
        )
        for key in (acme_key, acme_key, other_key):
            async with business.client(key) as client:
                response = await client.post("/v1/chat/completions", json=chat(PLANTED, 60))
                assert response.status_code == 200
        await wait_for_bodies(business.platform, acme_id, 2)
        await wait_for_bodies(business.platform, other_id, 1)
        ((stored_request, _),) = await stored_bodies(business.platform, other_id)
        assert "<PHONE_1>" in stored_request and PHONE not in stored_request

        admin_keys = (await business.http.get("/admin/keys?org=admin")).json()["data"]
        actor = admin_keys[0]["id"]
        erased = await business.http.delete("/admin/orgs/acme/bodies")
        assert erased.status_code == 200, erased.text
        assert erased.json() == {"org_id": acme_id, "erased": 2, "conversations_erased": 0}
        assert (await business.http.get("/admin/orgs/acme/privacy")).json()["stored"] == 0
        assert (await business.http.get("/admin/orgs/other/privacy")).json()["stored"] == 1
        erasures = await business.platform.infra.db.read(audits, "bodies.erase")
        assert [(a.actor, a.target, a.detail) for a in erasures] == [
            (actor, acme_id, {"removed": 2})
        ]

        purged = await business.http.post("/admin/privacy/purge")
        assert purged.status_code == 200 and purged.json() == {"purged": 0}
        old = utcnow() - timedelta(days=8)
        keyring = business.platform.infra.keyring
        await business.platform.infra.db.write(
            bodies.store_body, keyring, "req_old", other_id, old, "{}", "{}"
        )
        assert (await business.http.post("/admin/privacy/purge")).json() == {"purged": 1}
        assert await business.platform.infra.db.read(bodies.count_bodies, other_id) == 1
        purges = await business.platform.infra.db.read(audits, "bodies.purge")
        assert [(a.actor, a.target, a.detail) for a in purges] == [(actor, "*", {"removed": 1})]

        rotated = await business.http.post("/admin/privacy/rotate-keys")
        assert rotated.status_code == 200
        assert rotated.json() == {
            "active_key": keyring.active,
            "reencrypted": 0,
            "conversation_rows": 0,
            "chunks": 0,
        }

        for bad in (
            {"pii_mode": "shout"},
            {"pii_mode": None},
            {"retention_days": 0},
            {"retention_days": 4000},
            {"store_bodies": "sometimes"},
            {"store_bodies": True, "keep_forever": True},
        ):
            response = await business.http.put("/admin/orgs/acme/privacy", json=bad)
            assert_openai_error(response, 400, "invalid_request")
        missing = await business.http.put("/admin/orgs/nobody/privacy", json={})
        assert missing.status_code == 404, missing.text
        assert (await business.http.delete("/admin/orgs/nobody/bodies")).status_code == 404
        policy = (await business.http.get("/admin/orgs/acme/privacy")).json()
        assert policy["store_bodies"] is True and policy["pii_mode"] == "off"


async def test_an_inference_key_may_not_use_the_privacy_endpoints(tmp_path):
    async with app_on("sqlite", tmp_path) as business:
        _, key = await member(business, "acme", store_bodies=True)
        async with business.client(key) as client:
            for method, path, body in (
                ("GET", "/admin/orgs/acme/privacy", None),
                ("PUT", "/admin/orgs/acme/privacy", {"store_bodies": False}),
                ("DELETE", "/admin/orgs/acme/bodies", None),
                ("POST", "/admin/privacy/purge", None),
                ("POST", "/admin/privacy/rotate-keys", None),
            ):
                response = await client.request(method, path, json=body)
                assert_openai_error(response, 403, "missing_scope")
        assert await business.platform.infra.db.read(audits, "org.privacy") != []
        assert await business.platform.infra.db.read(audits, "bodies.erase") == []
        policy = (await business.http.get("/admin/orgs/acme/privacy")).json()
        assert policy["store_bodies"] is True


# --- failing closed -----------------------------------------------------------------------------


async def test_a_broken_detector_refuses_the_request_and_the_server_keeps_serving(
    backend, tmp_path, monkeypatch, caplog
):
    def broken(text: str):
        raise RuntimeError("detector exploded")

    async with app_on(backend, tmp_path) as business:
        blocker_id, blocker = await member(business, "blocker", pii_mode="block")
        redactor_id, redactor = await member(business, "redactor", pii_mode="redact_model")
        _, plain = await member(business, "plain")
        # the name services.privacy calls in block mode, and the one Placeholders calls
        monkeypatch.setattr("modelmint.services.privacy.detect", broken)
        monkeypatch.setattr("modelmint.privacy.placeholders.detect", broken)
        for key in (blocker, redactor):
            async with business.client(key) as client:
                for body in (chat(PLANTED, 60), chat("no personal data", 60, stream=True)):
                    response = await client.post("/v1/chat/completions", json=body)
                    error = assert_openai_error(response, 503, "pii_check_failed")
                    assert error["type"] == "server_error"
                completion = {"model": "default", "prompt": PLANTED, "max_tokens": 5}
                response = await client.post("/v1/completions", json=completion)
                assert_openai_error(response, 503, "pii_check_failed")
        async with business.client(plain) as client:  # an org that needs no detection
            response = await client.post("/v1/chat/completions", json=chat("hello", 10))
            assert response.status_code == 200
        assert "PII detection failed (RuntimeError)" in caplog.text
        assert PHONE not in caplog.text

        monkeypatch.undo()
        async with business.client(redactor) as client:
            response = await client.post("/v1/chat/completions", json=chat(PLANTED, 60))
            assert response.status_code == 200
            assert response.json()["choices"][0]["message"]["content"] == f"You said: {PLANTED}"
        async with business.client(blocker) as client:
            response = await client.post("/v1/chat/completions", json=chat("hello", 10))
            assert response.status_code == 200
        for org_id in (blocker_id, redactor_id):  # the refused requests cost nothing
            rows = await business.platform.infra.db.write(ledger_rows, org_id)
            assert [r.status for r in rows] == ["ok"]


# --- known bugs -------------------------------------------------------------------------------


async def test_values_after_a_newline_are_redacted_in_stored_bodies(tmp_path):
    async with app_on("sqlite", tmp_path) as business:
        org_id, key = await member(business, "lines", store_bodies=True, pii_mode="redact_storage")
        content = f"My details:\n{PHONE}\n{CN_ID}\n{CARD}\n{EMAIL}"
        async with business.client(key) as client:
            response = await client.post("/v1/chat/completions", json=chat(content, 60))
            assert response.status_code == 200
        await wait_for_bodies(business.platform, org_id, 1)
        ((request_text, _),) = await stored_bodies(business.platform, org_id)
        assert not [needle for needle in NEEDLES if needle in request_text], request_text
        stored = json.loads(request_text)["messages"][0]["content"]
        assert stored == "My details:\n<PHONE_1>\n<CN_ID_1>\n<CARD_1>\n<EMAIL_1>"


async def test_logprobs_are_refused_in_redact_model_mode(tmp_path):
    # the placeholders' tokens are not the text the caller gets back: no honest logprobs
    async with app_on("sqlite", tmp_path) as business:
        _, key = await member(business, "logprobs", pii_mode="redact_model")
        async with business.client(key) as client:
            whole = await client.post("/v1/chat/completions", json=chat(PLANTED, 60, logprobs=True))
            streamed = await client.post(
                "/v1/chat/completions", json=chat(PLANTED, 60, logprobs=True, stream=True)
            )
        for response in (whole, streamed):
            assert response.status_code == 400
            error = response.json()["error"]
            assert error["param"] == "logprobs" and error["code"] == "unsupported_parameter"
            assert PLANTED not in response.text


async def test_debug_logging_of_the_server_logs_no_streamed_answer(tmp_path):
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("debug")  # what `modelmint serve --log-level debug` does
        root.addHandler(Keep())
        async with app_on("sqlite", tmp_path) as business:
            _, key = await member(business, "debugged", pii_mode="redact_model")
            async with business.client(key) as client:
                body = chat(PLANTED, 60, stream=True)
                response = await client.post("/v1/chat/completions", json=body)
                assert streamed_texts(response.text) == {0: f"You said: {PLANTED}"}
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert records  # the capture works
    leaked = {r.name for r in records if leaks_in(r.getMessage().encode())}
    assert not leaked, leaked
