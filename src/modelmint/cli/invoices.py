"""`modelmint invoices`: show an organization's monthly invoice (table, CSV or JSON) and
finalise it once the month is over, straight on the database."""

from __future__ import annotations

from pathlib import Path

import typer

from modelmint.billing.invoices import Invoice
from modelmint.cli.database import (
    ACTOR,
    DatabaseUrlOption,
    JsonOption,
    Where,
    checked_month,
    print_json,
    print_table,
    run,
)
from modelmint.cli.options import ConfigOption, DataDirOption
from modelmint.core.bounds import printable
from modelmint.services import admin as service

app = typer.Typer(
    help="Monthly invoices: show (table, CSV, JSON) and finalise.", no_args_is_help=True
)


def _print_invoice(invoice: Invoice) -> None:
    data = invoice.to_dict()
    rows = [
        (line["kind"], line["description"], line["quantity"], f"${line['amount']}")
        for line in data["lines"]
    ]
    print_table(
        f"invoice {data['id']} for {data['org_id']}, {data['month']} ({data['status']})",
        ("kind", "description", "quantity", "amount"),
        rows,
        right=("quantity", "amount"),
        totals=("total", "", "", f"${data['total']}"),
    )
    typer.echo(data["rounding"])


@app.command("show")
def show(
    org: str = typer.Argument(..., metavar="ORG", help="Organization name or id."),
    month: str = typer.Option(
        None,
        "--month",
        metavar="YYYY-MM",
        callback=checked_month,
        help="Month as YYYY-MM, e.g. 2026-11 (default: this month, UTC).",
    ),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV (one row per line, a total)."),
    as_json: bool = JsonOption,
    data_dir: Path = DataDirOption,
    database_url: str = DatabaseUrlOption,
    config_file: Path = ConfigOption,
) -> None:
    """Show an organization's invoice for a month: the final one, or an up-to-date draft.

    Example: modelmint invoices show acme --month 2026-11 --csv > acme-2026-11.csv
    """
    if as_csv and as_json:
        raise typer.BadParameter("choose one of --csv and --json", param_hint="--csv/--json")
    invoice = run(Where(data_dir, database_url, config_file), service.invoice, org, month)
    if as_csv:
        typer.echo(printable(invoice.to_csv(), keep="\r\n"), nl=False)
    elif as_json:
        print_json(invoice.to_dict())
    else:
        _print_invoice(invoice)


@app.command("finalize")
def finalize(
    org: str = typer.Argument(..., metavar="ORG", help="Organization name or id."),
    month: str = typer.Argument(
        ...,
        metavar="MONTH",
        callback=checked_month,
        help="A month that is over, as YYYY-MM, e.g. 2026-10.",
    ),
    data_dir: Path = DataDirOption,
    database_url: str = DatabaseUrlOption,
    config_file: Path = ConfigOption,
) -> None:
    """Freeze an organization's invoice for a past month; it never changes after.

    Example: modelmint invoices finalize acme 2026-10
    """
    where = Where(data_dir, database_url, config_file)
    invoice = run(where, service.finalize, org, month, ACTOR)
    _print_invoice(invoice)
    typer.secho(f"Finalised {invoice.id}: total ${invoice.to_dict()['total']}.", fg="green")
