"""`modelmint usage`: a month's requests, tokens, revenue, serving cost and gross margin
per model, org or key, with a totals row, straight from the ledger."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path

import typer

from modelmint.cli.database import (
    DatabaseUrlOption,
    JsonOption,
    Where,
    checked_month,
    print_json,
    print_table,
    run,
    usd,
)
from modelmint.cli.options import ConfigOption, DataDirOption
from modelmint.services import admin as service

COUNTS = ("requests", "prompt_tokens", "completion_tokens", "revenue_nanos", "cost_nanos")


class Group(StrEnum):
    model = "model"
    org = "org"
    key = "key"


def _percent(ratio: str | Decimal | None) -> str:
    return "-" if ratio is None else f"{Decimal(ratio) * 100:.1f}%"


def _cells(label: str, row: dict) -> tuple:
    return (
        label,
        f"{row['requests']:,}",
        f"{row['prompt_tokens']:,}",
        f"{row['completion_tokens']:,}",
        usd(row["revenue_nanos"]),
        usd(row["cost_nanos"]),
        usd(row["margin_nanos"]) if row["margin_nanos"] >= 0 else "-" + usd(-row["margin_nanos"]),
        _percent(row["margin_ratio"]),
    )


def _totals(rows: list[dict]) -> dict:
    total = {name: sum(row[name] for row in rows) for name in COUNTS}
    total["margin_nanos"] = total["revenue_nanos"] - total["cost_nanos"]
    revenue = total["revenue_nanos"]
    total["margin_ratio"] = Decimal(total["margin_nanos"]) / revenue if revenue else None
    return total


def usage(
    month: str = typer.Option(
        None,
        "--month",
        metavar="YYYY-MM",
        callback=checked_month,
        help="Month as YYYY-MM, e.g. 2026-11 (default: this month, UTC).",
    ),
    by: Group = typer.Option(Group.model, "--by", help="Group rows by model, org or key."),
    org: str = typer.Option(
        None, "--org", metavar="ORG", help="Only this organization (name or id)."
    ),
    as_json: bool = JsonOption,
    data_dir: Path = DataDirOption,
    database_url: str = DatabaseUrlOption,
    config_file: Path = ConfigOption,
) -> None:
    """Show a month's usage and unit economics: revenue, serving cost and gross margin.

    Example: modelmint usage --month 2026-11 --by org
    """
    where = Where(data_dir, database_url, config_file)
    report = run(where, service.usage, month, by.value, org)
    if as_json:
        print_json(report)
        return
    rows = report["rows"]
    columns = (by.value, "requests", "input tokens", "output tokens")
    columns += ("revenue", "cost", "margin", "margin %")
    title = f"usage {report['month']} by {by.value}"
    if report["org_id"]:
        title += f" for {report['org_id']}"
    print_table(
        title,
        columns,
        [_cells(row["group"] or "-", row) for row in rows],
        right=columns[1:],
        whole=(by.value,),
        totals=_cells("total", _totals(rows)),
    )
    if not rows:
        typer.echo(f"No usage recorded in {report['month']}.")
