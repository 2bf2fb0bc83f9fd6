"""The CLI refuses out-of-range numbers and names with control characters with a clear
message and exit code (never a traceback), and never prints raw control bytes: names that
are in the database already (left by an older version, or written by hand) print escaped."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from modelmint.cli.main import app
from modelmint.store.database import Database
from modelmint.store.tables import api_keys, orgs, plans, usage_ledger

ENV = {
    "COLUMNS": "250",
    "NO_COLOR": "1",
    "TERM": "dumb",
    "MODELMINT_DATABASE_URL": None,
    "MODELMINT_SECRET_KEY": None,
    "MODELMINT_CONFIG_FILE": None,
}
# what an attacker would put in a name: clear the screen, set the title, ring, a NUL, a
# right-to-left override and a C1 control
HOSTILE = "evil\x1b[2J\x1b]0;pwned\x07\x00\u202egnp\x9b"
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture
def cli(tmp_path):
    runner = CliRunner()

    def invoke(*args: str, code: int | None = 0):
        env = {**ENV, "MODELMINT_DATA_DIR": str(tmp_path)}
        result = runner.invoke(app, list(args), env=env)
        if code is not None:
            assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(
            result.exception
        )
        assert not RAW.search(result.output), repr(result.output)
        return result

    return invoke


def write(tmp_path, statement) -> None:
    db = Database(f"sqlite:///{tmp_path / 'modelmint.db'}")
    try:
        db.run(lambda connection: connection.execute(statement))
    finally:
        db.close()


@pytest.mark.parametrize(
    "args, words",
    [
        (
            ("plans", "create", "p", "--price", "*=1,1", "--rpm", str(2**63)),
            ["--rpm must be between 1 and 100000000"],
        ),
        (
            ("plans", "create", "p", "--price", "*=1,1", "--tpm", str(2**62)),
            ["--tpm must be between 1 and 100000000"],
        ),
        (
            ("plans", "create", "p", "--price", "*=1,1", "--max-concurrent", "0"),
            ["between 1 and 1000000"],
        ),
        (
            ("plans", "create", "p", "--price", "*=1,1", "--included-tokens", str(2**64)),
            ["1000000000000000"],
        ),
        (("plans", "create", "p", "--price", "*=1e20,1"), ["input", "between 0 and 1000"]),
        (("plans", "create", "p", "--price", "*=1,NaN"), ["output", "between 0 and 1000"]),
        (("plans", "create", "p", "--price", "*=1,1", "--monthly-price", "1e30"), ["1000000000"]),
        (("plans", "create", "p\x1b[31m", "--price", "*=1,1"), ["name", "U+001B"]),
        (("plans", "create", "p", "--price", "m\u202e=1,1", "--price", "*=1,1"), ["U+202E"]),
        (("plans", "price", "starter", "*", "1e400", "1"), ["input", "between"]),
        (("orgs", "create", "acme", "--spend-limit", "1e30"), ["spend_limit", "1000000000"]),
        (("orgs", "create", "acme", "--spend-limit", "Infinity"), ["spend_limit", "between"]),
        (("orgs", "create", "acme", "--token-limit", str(2**63)), ["--token-limit"]),
        (("orgs", "create", "ac\x07me"), ["name", "U+0007"]),
        (("orgs", "limits", "admin", "--spend-limit", "-1"), ["spend_limit", "between"]),
        (
            ("orgs", "subscribe", "admin", "starter", "--starts-at", "9999-12-31T23:00:00-05:00"),
            ["starts_at", "9998-12-31"],
        ),
        (("keys", "create", "--org", "admin", "--rpm", str(2**63)), ["--rpm"]),
        (("keys", "create", "--org", "admin", "--spend-limit", "1e30"), ["spend_limit"]),
        (("keys", "create", "--org", "admin", "--name", "k\x1b"), ["name", "U+001B"]),
        (
            ("privacy", "policy", "admin", "--retention-days", "0"),
            ["--retention-days must be between 1 and 3650"],
        ),
        (("usage", "--month", "9999-12"), ["1970-01 and 9998-12"]),
        (("invoices", "show", "admin", "--month", "2026-13"), ["YYYY-MM"]),
        (("invoices", "finalize", "admin", "0000-01"), ["YYYY-MM"]),
    ],
)
def test_out_of_range_options_are_refused_with_the_bounds(cli, args, words):
    cli("admin", "init")
    result = cli(*args, code=2)
    for word in words:
        assert word in result.output, result.output
    # nothing was made
    listed = json.loads(cli("plans", "list", "--json").stdout)
    assert [plan["name"] for plan in listed] == ["starter"]
    assert [org["name"] for org in json.loads(cli("orgs", "list", "--json").stdout)] == ["admin"]
    assert len(json.loads(cli("keys", "list", "--json").stdout)) == 1


def test_names_already_in_the_database_print_escaped(cli, tmp_path):
    cli("admin", "init")
    cli("orgs", "create", "acme")
    cli("plans", "create", "pro", "--price", "*=1,2")
    cli("keys", "create", "--org", "acme", "--name", "ci")
    (org,) = [o for o in json.loads(cli("orgs", "list", "--json").stdout) if o["name"] == "acme"]
    write(tmp_path, update(orgs).where(orgs.c.id == org["id"]).values(name=HOSTILE))
    write(tmp_path, update(plans).where(plans.c.name == "pro").values(name=HOSTILE))
    write(tmp_path, update(api_keys).where(api_keys.c.name == "ci").values(name=HOSTILE))
    row = {
        "request_id": "req_1",
        "created_at": datetime(2026, 10, 5, 12),
        "org_id": org["id"],
        "key_id": None,
        "model": HOSTILE,
        "endpoint": "chat",
        "status": "ok",
        "prompt_tokens": 10,
        "completion_tokens": 10,
        "latency_ms": 1.0,
        "ttft_ms": 1.0,
        "compute_seconds": 0.01,
        "price_nanos": 1000,
        "cost_nanos": 10,
    }
    write(tmp_path, usage_ledger.insert().values(**row))
    escaped = "evil\\x1b[2J\\x1b]0;pwned\\x07\\x00\\u202egnp\\x9b"

    plan_id = json.loads(cli("plans", "list", "--json").stdout)[1]["id"]
    named = [
        cli("orgs", "list").output,
        cli("plans", "list").output,
        cli("keys", "list").output,
        cli("usage", "--month", "2026-10").output,
        cli("invoices", "show", org["id"], "--month", "2026-10").output,
        cli("invoices", "show", org["id"], "--month", "2026-10", "--csv").output,
        cli("orgs", "limits", org["id"], "--spend-limit", "5").output,
        cli("orgs", "subscribe", org["id"], plan_id).output,
    ]
    for output in named:
        assert escaped in output, output
    cli("usage", "--month", "2026-10", "--by", "org")
    # JSON escapes them its own way, and parses back to the stored name
    as_json = cli("orgs", "list", "--json").stdout
    assert HOSTILE in [o["name"] for o in json.loads(as_json)]
    # a lookup by such a name (it cannot be typed with a NUL) is answered escaped too
    missing = cli("orgs", "limits", "nope\x1b[2J", code=1).output
    assert "nope\\x1b[2J" in missing


def test_lookups_with_control_characters_get_a_clear_error(cli):
    cli("admin", "init")
    result = cli("keys", "list", "--org", "ghost\x1b]0;x\x07", code=1)
    assert "no organization" in result.output and "\\x1b" in result.output
