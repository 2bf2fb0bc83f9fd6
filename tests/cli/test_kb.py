"""`modelmint kb` against a real HTTP server (fake engines, no auth): create with a folder
of files, ingestion followed to the end, a file that fails named with its reason, add,
list, search and ask; an unreachable server is a message and exit code 1."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

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


def test_create_add_search_and_ask(runner, fake_server_url, tmp_path):
    url = fake_server_url + "/v1"
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "returns.md").write_text("自签收之日起15天内可以无理由退货。", encoding="utf-8")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    made = invoke(runner, "kb", "create", "support", str(docs), "--url", url)
    assert made.exit_code == 0, made.text
    store_id = made.text.strip().splitlines()[-1]
    assert store_id.startswith("vs_")
    assert "failed:" in made.text and "broken.pdf" in made.text
    extra = tmp_path / "hours.txt"
    extra.write_text("The shop sells kettles and lamps.", encoding="utf-8")
    added = invoke(runner, "kb", "add", store_id, str(extra), "--url", url)
    assert added.exit_code == 0, added.text
    listed = invoke(runner, "kb", "list", "--url", url)
    assert store_id in listed.text and "support" in listed.text
    found = invoke(runner, "kb", "search", store_id, "退货", "--url", url)
    assert found.exit_code == 0 and "returns.md" in found.text and "15天" in found.text
    answered = invoke(runner, "kb", "ask", "签收后多少天内可以无理由退货？", "--kb", store_id,
                      "--url", url)  # fmt: skip
    assert answered.exit_code == 0, answered.text
    assert "15天" in answered.text and "[1] returns.md" in answered.text


def test_an_unreachable_server_says_what_to_do(runner):
    result = invoke(runner, "kb", "list", "--url", "http://127.0.0.1:9/v1")
    assert result.exit_code == 1 and "modelmint serve" in result.text


def test_a_missing_path_is_named(runner, fake_server_url, tmp_path):
    result = invoke(runner, "kb", "create", "x", str(tmp_path / "nope.txt"),
                    "--url", fake_server_url + "/v1")  # fmt: skip
    assert result.exit_code == 1 and "nope.txt" in result.text
