"""The `modelmint` command line through typer's CliRunner: help, version, models and chat."""

from __future__ import annotations

import re
import socket

import pytest
from typer.testing import CliRunner

from modelmint import __version__
from modelmint.cli.main import app

ANSI = re.compile(r"\x1b\[[0-9;]*m")
ENV = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str):
    result = runner.invoke(app, list(args), env=ENV)
    result.text = ANSI.sub("", result.output)  # type: ignore[attr-defined]
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_app_help_lists_commands(runner):
    result = invoke(runner, "--help")
    assert result.exit_code == 0, result.output
    for word in ("serve", "chat", "models", "--version", "--help"):
        assert word in result.text


def test_no_arguments_shows_help(runner):
    result = invoke(runner)
    assert "Usage" in result.text
    assert "serve" in result.text


@pytest.mark.parametrize(
    ("command", "options"),
    [
        (
            "serve",
            [
                "--host",
                "--port",
                "--models",
                "--threads",
                "--max-queue",
                "--only",
                "--config",
                "--data-dir",
                "--log-level",
            ],
        ),
        (
            "chat",
            [
                "--once",
                "--model",
                "--system",
                "--temperature",
                "--max-tokens",
                "--url",
                "--api-key",
            ],
        ),
        ("models", ["--models"]),
    ],
)
def test_command_help_mentions_its_options(runner, command, options):
    result = invoke(runner, command, "--help")
    assert result.exit_code == 0, result.output
    assert f"modelmint {command}" in result.text
    for option in options:
        assert option in result.text, option


def test_version(runner):
    result = invoke(runner, "--version")
    assert result.exit_code == 0
    assert result.text.strip() == f"modelmint {__version__}"


def test_models_lists_the_builtin_models(runner):
    result = invoke(runner, "models")
    assert result.exit_code == 0, result.output
    for word in (
        "smollm2-135m-instruct",
        "all-minilm-l6-v2",
        "llamacpp",
        "embeddings",
        "default",
        "minilm",
        "2048",
        "256",
    ):
        assert word in result.text, word


def test_models_with_a_custom_file(runner, tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        '[[models]]\nname = "tiny-fake"\nengine = "fake"\naliases = ["t"]\n'
        '[[models]]\nname = "far"\nengine = "upstream"\n'
        'base_url = "http://upstream.invalid/v1"\n',
        encoding="utf-8",
    )
    result = invoke(runner, "models", "--models", str(path))
    assert result.exit_code == 0, result.output
    assert "tiny-fake" in result.text and "far" in result.text
    assert "http://upstream.invalid/v1" in result.text
    assert "smollm2" not in result.text


def test_models_with_missing_weights_reports_them(runner, tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        f'[[models]]\nname = "ghost"\nengine = "llamacpp"\npath = "{tmp_path / "ghost.gguf"}"\n',
        encoding="utf-8",
    )
    result = invoke(runner, "models", "--models", str(path))
    assert result.exit_code == 0, result.output
    assert "weights not found" in " ".join(result.text.split())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[models]\n", "not valid TOML"),
        ("", "lists no [[models]]"),
        ('[[models]]\nname = "up"\nengine = "upstream"\n', "needs base_url"),
    ],
)
def test_models_with_a_bad_file_exits_1(runner, tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    result = invoke(runner, "models", "--models", str(path))
    assert result.exit_code == 1
    assert message in result.text
    assert str(path) in result.text
    assert "Traceback" not in result.text


def test_models_with_a_missing_file_is_a_usage_error(runner, tmp_path):
    result = invoke(runner, "models", "--models", str(tmp_path / "nope.toml"))
    assert result.exit_code == 2
    assert "does not exist" in result.text


def test_chat_without_a_server_says_to_start_one(runner):
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = invoke(runner, "chat", "--once", "hello", "--url", url)
    assert result.exit_code == 1
    assert "modelmint serve" in result.text
    assert url in result.text
    assert "Traceback" not in result.text


def test_chat_once_against_the_fake_server(runner, fake_server_url):
    result = invoke(runner, "chat", "--once", "hello there", "--url", fake_server_url + "/v1")
    assert result.exit_code == 0, result.output
    assert "You said: hello there" in result.text


def test_chat_once_against_the_fake_server_with_max_tokens(runner, fake_server_url):
    result = invoke(
        runner,
        "chat",
        "--once",
        "hello there",
        "--url",
        fake_server_url + "/v1",
        "--max-tokens",
        "64",
    )
    assert result.exit_code == 0, result.output
    assert "You said: hello there" in result.text


def test_chat_once_with_options(runner, fake_server_url):
    result = invoke(
        runner,
        "chat",
        "--once",
        "a b c d",
        "--url",
        fake_server_url + "/v1",
        "--model",
        "fake-chat",
        "--system",
        "be brief",
        "--temperature",
        "0",
        "--max-tokens",
        "3",
    )
    assert result.exit_code == 0, result.output
    assert result.text.strip() == "You said: a"


def test_chat_url_from_the_environment(runner, fake_server_url):
    result = runner.invoke(
        app,
        ["chat", "--once", "env works", "--max-tokens", "64"],
        env={**ENV, "MODELMINT_URL": fake_server_url + "/v1"},
    )
    assert result.exit_code == 0, result.output
    assert "You said: env works" in result.output


def test_chat_server_error_is_shown_without_traceback(runner, fake_server_url):
    result = invoke(
        runner,
        "chat",
        "--once",
        "hi",
        "--url",
        fake_server_url + "/v1",
        "--model",
        "gpt-9",
        "--max-tokens",
        "64",
    )
    assert result.exit_code == 1
    assert "404" in result.text and "gpt-9" in result.text
    assert "Traceback" not in result.text


def test_chat_bad_temperature_is_reported(runner, fake_server_url):
    result = invoke(
        runner,
        "chat",
        "--once",
        "hi",
        "--url",
        fake_server_url + "/v1",
        "--temperature",
        "5",
        "--max-tokens",
        "64",
    )
    assert result.exit_code == 1
    assert "400" in result.text and "temperature" in result.text
