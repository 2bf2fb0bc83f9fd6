"""`modelmint plans`: create plans with their per-model prices, list them and change a
price from a date, straight on the database."""

from __future__ import annotations

from pathlib import Path

import typer

from modelmint.cli.database import (
    ACTOR,
    DatabaseUrlOption,
    JsonOption,
    Where,
    body,
    print_json,
    print_table,
    run,
    show,
    within,
)
from modelmint.cli.options import ConfigOption, DataDirOption
from modelmint.core.bounds import MAX_CONCURRENT, MAX_PER_MINUTE, MAX_TOKENS_PER_MONTH
from modelmint.services import admin as service

app = typer.Typer(help="Plans: prices per model, included tokens and limits.", no_args_is_help=True)

PRICE_SYNTAX = (
    "MODEL=INPUT,OUTPUT[,FINE_TUNING] in USD per million tokens (fine-tuning: per million "
    'trained tokens), e.g. "*=0.10,0.20,0.50"'
)


def parse_prices(values: list[str]) -> dict[str, dict[str, str]]:
    """`MODEL=INPUT,OUTPUT[,FINE_TUNING]` options as {model: {"input", "output", ...}}."""
    prices: dict[str, dict[str, str]] = {}
    for value in values:
        model, _, amounts = value.rpartition("=")
        parts = [part.strip() for part in amounts.split(",")]
        if not model.strip() or len(parts) not in (2, 3) or not all(parts):
            raise typer.BadParameter(f"{value!r} is not {PRICE_SYNTAX}", param_hint="--price")
        if model.strip() in prices:
            raise typer.BadParameter(f"{model.strip()!r} is priced twice", param_hint="--price")
        prices[model.strip()] = {"input": parts[0], "output": parts[1]}
        if len(parts) == 3:
            prices[model.strip()]["fine_tuning"] = parts[2]
    return prices


@app.command("create")
def create(
    name: str = typer.Argument(..., metavar="NAME", help="A unique name for the plan."),
    prices: list[str] = typer.Option(
        ...,
        "--price",
        metavar="MODEL=IN,OUT",
        help=f'{PRICE_SYNTAX} (repeatable; "*" is required and prices every other model).',
    ),
    monthly_price: str = typer.Option(
        None,
        "--monthly-price",
        metavar="USD",
        help="Subscription price in USD per month (default: 0).",
    ),
    included_tokens: int = typer.Option(
        None,
        "--included-tokens",
        metavar="N",
        callback=within(0, MAX_TOKENS_PER_MONTH),
        help="Tokens a month included before usage is charged.",
    ),
    rpm: int = typer.Option(
        None,
        "--rpm",
        metavar="N",
        callback=within(1, MAX_PER_MINUTE),
        help="Requests per minute per org (default: 600).",
    ),
    tpm: int = typer.Option(
        None,
        "--tpm",
        metavar="N",
        callback=within(1, MAX_PER_MINUTE),
        help="Tokens per minute per org (default: 200000).",
    ),
    max_concurrent: int = typer.Option(
        None,
        "--max-concurrent",
        metavar="N",
        callback=within(1, MAX_CONCURRENT),
        help="Requests an org may run at once (default: 16).",
    ),
    models: list[str] = typer.Option(
        None,
        "--model",
        metavar="MODEL",
        help="Only allow this model (repeatable; default: every model).",
    ),
    data_dir: Path = DataDirOption,
    database_url: str = DatabaseUrlOption,
    config_file: Path = ConfigOption,
) -> None:
    """Create a plan with its prices.

    Example: modelmint plans create pro --price "*=0.10,0.20,0.50" --price
    smollm2-135m-instruct=0.05,0.10 --monthly-price 20 --included-tokens 1000000
    """
    request = body(
        service.PlanCreate,
        name=name,
        prices=parse_prices(prices),
        monthly_price=monthly_price,
        included_tokens=included_tokens,
        rpm=rpm,
        tpm=tpm,
        max_concurrent=max_concurrent,
        allowed_models=models,
    )
    plan = run(Where(data_dir, database_url, config_file), service.create_plan, request, ACTOR)
    typer.secho(
        f"Created plan {plan['id']} ({show(plan['name'])}), {plan['monthly_price']} a month, "
        f"{len(request.prices)} price(s).",
        fg="green",
    )


@app.command("list")
def list_(
    as_json: bool = JsonOption,
    data_dir: Path = DataDirOption,
    database_url: str = DatabaseUrlOption,
    config_file: Path = ConfigOption,
) -> None:
    """List plans with their monthly price, included tokens and limits."""
    plans = run(Where(data_dir, database_url, config_file), service.list_plans)
    if as_json:
        print_json(plans)
        return
    columns = ("id", "name", "monthly", "included tokens", "rpm", "tpm", "concurrent", "models")
    rows = [
        (
            p["id"],
            p["name"],
            p["monthly_price"],
            f"{p['included_tokens']:,}",
            p["rpm"],
            p["tpm"],
            p["max_concurrent"],
            p["allowed_models"] or "all",
        )
        for p in plans
    ]
    print_table("plans", columns, rows, right=columns[2:7])


@app.command("price")
def price(
    plan: str = typer.Argument(..., metavar="PLAN", help="Plan name or id."),
    model: str = typer.Argument(
        ..., metavar="MODEL", help='Model name, or "*" for every model not listed.'
    ),
    input_price: str = typer.Argument(
        ..., metavar="INPUT", help="USD per million input tokens, e.g. 0.10."
    ),
    output_price: str = typer.Argument(
        ..., metavar="OUTPUT", help="USD per million output tokens, e.g. 0.20."
    ),
    fine_tuning_price: str = typer.Option(
        "0", "--fine-tuning", metavar="USD", help="USD per million trained tokens (default: 0)."
    ),
    effective_from: str = typer.Option(
        None,
        "--effective-from",
        metavar="ISO8601",
        help="When it applies, ISO 8601 (UTC unless an offset; now).",
    ),
    data_dir: Path = DataDirOption,
    database_url: str = DatabaseUrlOption,
    config_file: Path = ConfigOption,
) -> None:
    """Change a model's price on a plan from a date; earlier usage keeps its old price.

    Example: modelmint plans price pro "*" 0.12 0.24 --effective-from 2026-12-01T00:00:00Z
    """
    request = body(
        service.PriceChange,
        model=model,
        input=input_price,
        output=output_price,
        fine_tuning=fine_tuning_price,
        effective_from=effective_from,
    )
    where = Where(data_dir, database_url, config_file)
    changed = run(where, service.change_price, plan, request, ACTOR)
    typer.secho(
        f"{changed['plan']}: {show(changed['model'])} costs ${request.input} in, "
        f"${request.output} out per million tokens (${request.fine_tuning} per million trained) "
        f"from {changed['effective_from']}.",
        fg="green",
    )
