"""`modelmint eval` end to end over real HTTP against the fake engine (which answers
"You said: <the question>"): the score, the failures, and what it says when the server
is down, refuses the key or has no such model."""

from __future__ import annotations

import json
import re
import socket

import pytest
import typer
from typer.testing import CliRunner

from modelmint.api import create_app
from modelmint.cli.evaluate import eval_command
from tests.business_helpers import business_settings
from tests.helpers import fake_pool, running_server

ANSI = re.compile(r"\x1b\[[0-9;]*m")
ENV = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
LINES = [
    {"id": "echo", "question": "say banana please", "expect": ["banana"]},
    {"id": "miss", "question": "say apple", "expect": ["cherry"]},
    {
        "messages": [
            {"role": "user", "content": "the zorbling is teal"},
            {"role": "assistant", "content": "The zorbling is TEAL."},
        ]
    },
]

app = typer.Typer()
app.command()(eval_command)  # as main.py registers it, without the other commands


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def set_file(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in LINES), encoding="utf-8")
    return path


def invoke(runner: CliRunner, *args: str, env: dict | None = None):
    result = runner.invoke(app, list(args), env={**ENV, **(env or {})})
    result.text = ANSI.sub("", result.output)  # type: ignore[attr-defined]
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_eval_scores_a_set_and_lists_the_failures(runner, fake_server_url, set_file):
    url = fake_server_url + "/v1"
    result = invoke(runner, "default", "--set", str(set_file), "--base-url", url)
    assert result.exit_code == 0, result.output
    assert "score: 2/3 passed (67%)" in result.text
    assert "miss" in result.text and "You said: say apple" in result.text
    assert "echo" not in result.text and "line-3" not in result.text


def test_eval_sends_max_tokens(runner, fake_server_url, set_file):
    url = fake_server_url + "/v1"
    result = invoke(runner, "default", "--set", str(set_file), "--base-url", url,
                    "--max-tokens", "2")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "score: 0/3 passed" in result.text  # "You said:" and no more


def test_eval_takes_the_url_from_the_environment(runner, fake_server_url, set_file):
    env = {"MODELMINT_BASE_URL": fake_server_url + "/v1"}
    result = invoke(runner, "fake-chat", "--set", str(set_file), env=env)
    assert result.exit_code == 0, result.output
    assert "score: 2/3" in result.text


def test_eval_runs_the_quality_set_by_default(runner, fake_server_url):
    result = invoke(runner, "default", "--base-url", fake_server_url + "/v1")
    assert result.exit_code == 0, result.output
    assert re.search(r"score: \d+/26 passed", result.text)


def test_eval_without_a_server_says_to_start_one(runner, set_file):
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = invoke(runner, "default", "--set", str(set_file), "--base-url", url)
    assert result.exit_code == 1
    assert "Cannot reach" in result.text and url in result.text
    assert "modelmint serve" in result.text
    assert "Traceback" not in result.text


def test_eval_with_a_refused_key_says_how_to_get_one(runner, tmp_path, set_file):
    app_ = create_app(business_settings(tmp_path), pool=fake_pool())
    with running_server(app_) as url:
        result = invoke(runner, "default", "--set", str(set_file), "--base-url", url + "/v1",
                        "--api-key", "sk-not-a-key")  # fmt: skip
    assert result.exit_code == 1
    assert "refused the API key" in result.text and "--api-key" in result.text
    assert "sk-not-a-key" not in result.text
    assert "Traceback" not in result.text


def test_eval_of_an_unknown_model(runner, fake_server_url, set_file):
    url = fake_server_url + "/v1"
    result = invoke(runner, "gpt-9", "--set", str(set_file), "--base-url", url)
    assert result.exit_code == 1
    assert "no model 'gpt-9'" in result.text
    assert "Traceback" not in result.text


def test_eval_names_the_bad_line_of_a_set(runner, fake_server_url, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "question": "q", "expect": ["a"]}\n{"id": "b"}\n')
    result = invoke(runner, "default", "--set", str(path), "--base-url", fake_server_url)
    assert result.exit_code == 1
    assert "line 2" in result.text and "question" in result.text
