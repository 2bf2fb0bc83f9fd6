"""Hostile response_format schemas against the real server, over real HTTP.

The server runs as its own process with the real llama.cpp model. Hostile schemas (huge
lengths, deep nesting, wide enums, long and repetitive patterns, many branches, recursive
$refs) are sent, several at a time, while another client keeps chatting. Every hostile
schema gets a 400 in OpenAI's error shape, the other client keeps being answered,
/health answers within a second throughout and the server's memory stays near its
baseline. (Before the limits, minLength 10**9 grew the process to 20 GB.)
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import jsonschema
import pytest

from tests.api.test_sigkill import free_port
from tests.runtime.test_grammar_bounds import HOSTILE, PERSON

pytestmark = pytest.mark.real_model

CHAT = "/v1/chat/completions"
RSS_HEADROOM = 256 << 20  # bytes over the warmed-up baseline
HEALTH_SECONDS = 1.0


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) << 10
    return 0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(base URL, pid) of `modelmint serve` with the default chat model, without keys."""
    import subprocess
    import sys

    data_dir = tmp_path_factory.mktemp("hostile-schemas")
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("modelmint")), "serve", "--no-auth",
        "--only", "smollm2-135m-instruct", "--threads", "2",
        "--data-dir", str(data_dir), "--port", str(port), "--log-level", "error",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError("the server did not become ready")
    try:
        yield url, process.pid
    finally:
        process.kill()
        process.wait()


def chat(schema: dict | None = None, **extra) -> dict:
    body = {
        "model": "default",
        "max_tokens": 30,
        "messages": [{"role": "user", "content": "Describe a person as JSON."}],
        **extra,
    }
    if schema is not None:
        format_ = {"name": "x", "schema": schema}
        body["response_format"] = {"type": "json_schema", "json_schema": format_}
    return body


class Watch:
    """In the background: /health's latency, the server's peak RSS, and a well-behaved
    client's chats, until `stop()`."""

    def __init__(self, url: str, pid: int) -> None:
        self.url, self.pid = url, pid
        self.health: list[float] = []
        self.peak_rss = rss(pid)
        self.answered, self.failed = 0, []
        self._done = threading.Event()
        self._threads = [
            threading.Thread(target=target, daemon=True)
            for target in (self._probe, self._chat)
        ]  # fmt: skip

    def __enter__(self) -> Watch:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _probe(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self._done.is_set():
                started = time.perf_counter()
                assert client.get("/health").status_code == 200
                self.health.append(time.perf_counter() - started)
                self.peak_rss = max(self.peak_rss, rss(self.pid))
                time.sleep(0.05)

    def _chat(self) -> None:
        body = chat(max_tokens=8)
        with httpx.Client(base_url=self.url, timeout=60) as client:
            while not self._done.is_set():
                response = client.post(CHAT, json=body)
                if response.status_code == 200:
                    self.answered += 1
                else:
                    self.failed.append(response.text)


def assert_openai_400(response: httpx.Response) -> dict:
    assert response.status_code == 400, (response.status_code, response.text[:300])
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["param"] == "response_format"
    return error


def test_hostile_schemas_are_refused_while_the_server_keeps_serving(server):
    url, pid = server
    with httpx.Client(base_url=url, timeout=60) as client:
        assert client.post(CHAT, json=chat(PERSON)).status_code == 200  # warm up
    baseline = rss(pid)
    bodies = [chat(schema) for schema, _ in HOSTILE.values()]
    bodies += [chat(schema, stream=True) for schema, _ in list(HOSTILE.values())[:3]]
    bodies += [chat(schema, n=8) for schema, _ in list(HOSTILE.values())[:3]]

    def send(body: dict) -> tuple[float, httpx.Response]:
        with httpx.Client(base_url=url, timeout=60) as client:
            started = time.perf_counter()
            response = client.post(CHAT, json=body)
            return time.perf_counter() - started, response

    with Watch(url, pid) as watch, ThreadPoolExecutor(4) as pool:
        rounds = 0
        # every hostile schema, three times, four at a time; more rounds on a machine that
        # refuses them so fast that the other client has not had five answers meanwhile
        while rounds < 3 or (watch.answered < 5 and rounds < 20):
            rounds += 1
            for seconds, response in pool.map(send, bodies):
                error = assert_openai_400(response)
                assert "the limit is" in error["message"], error
                assert seconds < 5, (seconds, error)
    assert not watch.failed, watch.failed[:3]
    assert watch.answered >= 5
    assert max(watch.health) < HEALTH_SECONDS, max(watch.health)
    assert watch.peak_rss < baseline + RSS_HEADROOM, (baseline >> 20, watch.peak_rss >> 20)


def test_the_reproduction_is_a_quick_400(server):
    url, _ = server
    for length in (10**9, 10**8):
        schema = {"type": "string", "minLength": length, "maxLength": length}
        started = time.perf_counter()
        response = httpx.post(url + CHAT, json=chat(schema), timeout=60)
        assert time.perf_counter() - started < 1.0
        error = assert_openai_400(response)
        assert "minLength" in error["message"] and "1000" in error["message"]


def test_ordinary_schemas_still_work(server):
    url, _ = server
    color = {"type": "object", "properties": {"color": {"enum": ["red", "green", "blue"]}}}
    bounded = {"type": "string", "minLength": 2, "maxLength": 12}
    with httpx.Client(base_url=url, timeout=60) as client:
        for schema in (PERSON, color, bounded):
            response = client.post(CHAT, json=chat(schema, max_tokens=120, temperature=0))
            assert response.status_code == 200, response.text
            choice = response.json()["choices"][0]
            if choice["finish_reason"] == "stop":  # a cut answer need not parse
                jsonschema.validate(json.loads(choice["message"]["content"]), schema)
