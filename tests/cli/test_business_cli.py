"""The business commands (admin, orgs, plans, keys, usage, invoices) through typer's
CliRunner, each test on its own data dir with a SQLite database."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime

import pytest
from typer.testing import CliRunner

from modelmint.cli.main import app
from modelmint.store.database import Database
from modelmint.store.tables import usage_ledger

ANSI = re.compile(r"\x1b\[[0-9;]*m")
KEY = re.compile(r"mm-[A-Za-z0-9_-]{40,}")
ENV = {
    "COLUMNS": "200",
    "NO_COLOR": "1",
    "TERM": "dumb",
    "MODELMINT_DATABASE_URL": None,
    "MODELMINT_SECRET_KEY": None,
    "MODELMINT_CONFIG_FILE": None,
}


@pytest.fixture
def cli(tmp_path):
    runner = CliRunner()

    def invoke(*args: str, code: int | None = 0):
        env = {**ENV, "MODELMINT_DATA_DIR": str(tmp_path)}
        result = runner.invoke(app, list(args), env=env)
        result.text = ANSI.sub("", result.output)  # type: ignore[attr-defined]
        if code is not None:
            assert result.exit_code == code, result.text
        assert "Traceback" not in result.text
        # an uncaught exception also exits 1: only typer's own exits are expected
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(
            result.exception
        )
        return result

    return invoke


def org_id(cli, name: str) -> str:
    orgs = json.loads(cli("orgs", "list", "--json").stdout)
    return next(org["id"] for org in orgs if org["name"] == name)


def add_usage(tmp_path, rows: list[tuple]) -> None:
    """Ledger rows (org_id, model, prompt, completion, price_nanos, cost_nanos) in 2026-10."""
    db = Database(f"sqlite:///{tmp_path / 'modelmint.db'}")
    values = [
        {
            "request_id": f"req_{index}",
            "created_at": datetime(2026, 10, 5, 12, index),
            "org_id": org,
            "key_id": None,
            "model": model,
            "endpoint": "chat",
            "status": "ok",
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "latency_ms": 10.0,
            "ttft_ms": 1.0,
            "compute_seconds": 0.01,
            "price_nanos": price,
            "cost_nanos": cost,
        }
        for index, (org, model, prompt, completion, price, cost) in enumerate(rows)
    ]
    try:
        db.run(lambda connection: connection.execute(usage_ledger.insert(), values))
    finally:
        db.close()


def test_admin_init_prints_a_key_once_and_refuses_a_second(cli, tmp_path):
    first = cli("admin", "init", "--data-dir", str(tmp_path))
    keys = KEY.findall(first.text)
    assert keys and len(set(keys)) == 1
    assert "shown only now" in first.text
    assert f"export MODELMINT_API_KEY={keys[0]}" in first.text
    assert "Authorization: Bearer" in first.text

    second = cli("admin", "init", code=1)
    assert "admin key exists already" in second.text and "--force" in second.text
    assert not KEY.search(second.text)

    forced = cli("admin", "init", "--force")
    assert KEY.search(forced.text).group() != keys[0]


def test_orgs_create_list_limits_and_subscribe(cli):
    created = cli("orgs", "create", "acme", "--spend-limit", "100", "--token-limit", "5000")
    assert "acme" in created.text and "starter" in created.text
    listed = cli("orgs", "list").text
    assert "acme" in listed and "starter" in listed and "$100.00" in listed and "5000" in listed

    assert "exists already" in cli("orgs", "create", "acme", code=1).text

    cli("orgs", "limits", "acme", "--spend-limit", "12.5")
    (acme,) = json.loads(cli("orgs", "list", "--json").stdout)
    assert acme["spend_limit_nanos"] == 12_500_000_000 and acme["token_limit"] is None

    cli("plans", "create", "pro", "--price", "*=0.10,0.20")
    later = cli("orgs", "subscribe", "acme", "pro", "--starts-at", "2999-01-01T00:00:00Z")
    assert "pro" in later.text and "2999-01-01" in later.text
    assert json.loads(cli("orgs", "list", "--json").stdout)[0]["plan"] == "starter"
    cli("orgs", "subscribe", "acme", "pro")  # from now
    assert json.loads(cli("orgs", "list", "--json").stdout)[0]["plan"] == "pro"


def test_plans_create_with_prices_list_and_change_a_price(cli):
    created = cli(
        "plans",
        "create",
        "pro",
        "--price",
        "*=0.10,0.20",
        "--price",
        "tiny=1,2",
        "--monthly-price",
        "20",
        "--included-tokens",
        "1000000",
        "--rpm",
        "60",
        "--model",
        "tiny",
    )
    assert "pro" in created.text and "$20.00" in created.text
    listed = cli("plans", "list").text
    assert "pro" in listed and "$20.00" in listed and "1,000,000" in listed and "tiny" in listed
    (pro,) = json.loads(cli("plans", "list", "--json").stdout)
    assert pro["rpm"] == 60 and pro["allowed_models"] == ["tiny"]

    changed = cli("plans", "price", "pro", "*", "0.12", "0.24", "--effective-from", "2027-01-01")
    assert "2027-01-01" in changed.text
    assert "no plan 'gold'" in cli("plans", "price", "gold", "*", "1", "1", code=1).text


def test_keys_create_list_and_revoke(cli):
    cli("orgs", "create", "acme")
    created = cli("keys", "create", "--org", "acme", "--name", "ci", "--rpm", "60")
    (key,) = set(KEY.findall(created.text))
    assert "shown only now" in created.text

    listed = cli("keys", "list").text
    as_json = cli("keys", "list", "--org", "acme", "--json").stdout
    assert key not in listed and key not in as_json
    (record,) = json.loads(as_json)
    assert key.startswith(record["prefix"]) and record["prefix"] in listed
    assert record["name"] == "ci" and record["id"] in listed and "60 rpm" in listed

    revoked = cli("keys", "revoke", record["id"])
    assert record["id"] in revoked.text and key not in revoked.text
    assert "revoked" in cli("keys", "list").text
    assert "no key 'key_nope'" in cli("keys", "revoke", "key_nope", code=1).text


def test_usage_by_model_on_an_empty_month_and_with_ledger_rows(cli, tmp_path):
    empty = cli("usage", "--month", "2026-09", "--by", "model")
    assert "total" in empty.text and "No usage recorded in 2026-09" in empty.text

    cli("orgs", "create", "acme")
    cli("orgs", "create", "beta")
    acme, beta = org_id(cli, "acme"), org_id(cli, "beta")
    add_usage(
        tmp_path,
        [
            (acme, "tiny", 1000, 500, 2_000_000, 500_000),
            (acme, "tiny", 1000, 500, 2_000_000, 500_000),
            (beta, "big", 10, 10, 1_000_000, 3_000_000),
        ],
    )
    report = cli("usage", "--month", "2026-10", "--by", "model").text
    tiny = next(line for line in report.splitlines() if "tiny" in line)
    for cell in ("2", "2,000", "1,000", "$0.0040", "$0.0010", "$0.0030", "75.0%"):
        assert cell in tiny, cell
    big = next(line for line in report.splitlines() if "big" in line)
    assert "-$0.0020" in big and "-200.0%" in big
    totals = next(line for line in report.splitlines() if "total" in line)
    for cell in ("3", "2,010", "1,010", "$0.0050", "$0.0040", "$0.0010", "20.0%"):
        assert cell in totals, cell

    by_org = cli("usage", "--month", "2026-10", "--by", "org", "--org", "acme", "--json")
    (row,) = json.loads(by_org.stdout)["rows"]
    assert row["group"] == acme and row["revenue_nanos"] == 4_000_000


def test_invoices_show_csv_json_table_and_finalize(cli, tmp_path):
    cli("orgs", "create", "acme")
    add_usage(tmp_path, [(org_id(cli, "acme"), "tiny", 1000, 1000, 12_340_000_000, 0)])
    text = cli("invoices", "show", "acme", "--month", "2026-10", "--csv").stdout
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["invoice", "org", "month", "kind", "description", "quantity", "amount"]
    assert rows[-1][3:] == ["total", "", "", "12.34"]
    assert any(row[3] == "usage" and row[6] == "12.34" for row in rows)

    data = json.loads(cli("invoices", "show", "acme", "--month", "2026-10", "--json").stdout)
    assert data["status"] == "draft" and data["total"] == "12.34"
    table = cli("invoices", "show", "acme", "--month", "2026-10").text
    assert "$12.34" in table and "rounded half-up" in table
    cli("invoices", "show", "acme", "--csv", "--json", code=2)

    final = cli("invoices", "finalize", "acme", "2026-10")
    assert "Finalised" in final.text and "$12.34" in final.text
    assert "final already" in cli("invoices", "finalize", "acme", "2026-10", code=1).text
    assert "not over yet" in cli("invoices", "finalize", "acme", "2999-01", code=1).text


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["orgs", "limits", "nope"], 1, "no organization 'nope'"),
        (["keys", "create", "--org", "nope"], 1, "modelmint orgs list"),
        (["keys", "list", "--org", "nope"], 1, "no organization 'nope'"),
        (["keys", "create", "--org", "acme", "--scope", "root"], 1, "unknown scopes"),
        (["orgs", "create", "x", "--spend-limit", "lots"], 2, "Invalid input: spend_limit"),
        (["orgs", "create", "x", "--plan", "gold"], 1, "no plan 'gold'"),
        (["plans", "create", "x", "--price", "tiny:1,2"], 2, "MODEL=INPUT,OUTPUT"),
        (["plans", "create", "x", "--price", "*=1"], 2, "MODEL=INPUT,OUTPUT"),
        (["plans", "create", "x", "--price", "*=a,b"], 2, "Invalid input"),
        (["plans", "create", "x", "--price", "tiny=1,2"], 1, '"*" price'),
        (["usage", "--month", "2026-13"], 2, "must be a month as YYYY-MM"),
        (["usage", "--month", "november"], 2, "must be a month as YYYY-MM"),
        (["usage", "--by", "planet"], 2, "planet"),
        (["invoices", "show", "acme", "--month", "2026-1-1"], 2, "must be a month as YYYY-MM"),
        (["invoices", "show", "nope"], 1, "no organization 'nope'"),
    ],
)
def test_bad_input_exits_non_zero_with_a_message(cli, args, code, message):
    cli("orgs", "create", "acme")
    result = cli(*args, code=code)
    assert message in result.text


@pytest.mark.parametrize(
    ("command", "options"),
    [
        (["admin", "init"], ["--force"]),
        (["orgs", "create"], ["NAME", "--plan", "--spend-limit", "--token-limit"]),
        (["orgs", "list"], ["--json"]),
        (["orgs", "limits"], ["ORG", "--spend-limit", "--token-limit"]),
        (["orgs", "subscribe"], ["ORG", "PLAN", "--starts-at"]),
        (["keys", "create"], ["--org", "--name", "--scope", "--model", "--rpm", "--tpm"]),
        (["keys", "create"], ["--spend-limit", "--token-limit", "--expires-at"]),
        (["keys", "list"], ["--org", "--json"]),
        (["keys", "revoke"], ["KEY_ID"]),
        (["plans", "create"], ["NAME", "--price", "--monthly-price", "--included-tokens"]),
        (["plans", "create"], ["--rpm", "--tpm", "--max-concurrent", "--model"]),
        (["plans", "list"], ["--json"]),
        (["plans", "price"], ["PLAN", "MODEL", "INPUT", "OUTPUT", "--effective-from"]),
        (["usage"], ["--month", "--by", "--org", "--json"]),
        (["invoices", "show"], ["ORG", "--month", "--csv", "--json"]),
        (["invoices", "finalize"], ["ORG", "MONTH"]),
    ],
)
def test_help_of_each_command(cli, command, options):
    text = cli(*command, "--help").text
    assert f"modelmint {' '.join(command)}" in text
    for option in [*options, "--data-dir", "--database-url"]:
        assert option in text, option


@pytest.mark.parametrize("group", ["admin", "orgs", "keys", "plans", "invoices"])
def test_group_help_lists_its_commands(cli, group):
    assert "Commands" in cli(group, "--help").text
