"""`modelmint orgs`: create and list organizations, set their monthly budgets and move
them to a plan, straight on the database."""

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
    usd,
    within,
)
from modelmint.cli.options import ConfigOption, DataDirOption
from modelmint.core.bounds import MAX_TOKENS_PER_MONTH
from modelmint.services import admin as service
from modelmint.services import personalization as personalized

app = typer.Typer(
    help="Organizations: create, list, budgets and plan subscriptions.", no_args_is_help=True
)

SpendLimitOption = typer.Option(
    None,
    "--spend-limit",
    metavar="USD",
    help="Monthly spend limit in USD, e.g. 100.00 (default: none).",
)
TokenLimitOption = typer.Option(
    None,
    "--token-limit",
    metavar="N",
    callback=within(0, MAX_TOKENS_PER_MONTH),
    help="Monthly token limit (default: none).",
)


def _limits(org: dict) -> str:
    return f"spend limit {usd(org['spend_limit_nanos'], 2)}, token limit {show(org['token_limit'])}"


@app.command("create")
def create(
    name: str = typer.Argument(..., metavar="NAME", help="A unique name for the organization."),
    plan: str = typer.Option(
        None, "--plan", metavar="PLAN", help="Plan name or id (default: starter)."
    ),
    spend_limit: str = SpendLimitOption,
    token_limit: int = TokenLimitOption,
    data_dir: Path = DataDirOption,
    database_url: str = DatabaseUrlOption,
    config_file: Path = ConfigOption,
) -> None:
    """Create an organization on a plan.

    Example: modelmint orgs create acme --plan pro --spend-limit 100
    """
    request = body(
        service.OrgCreate, name=name, plan=plan, spend_limit=spend_limit, token_limit=token_limit
    )
    org = run(Where(data_dir, database_url, config_file), service.create_org, request, ACTOR)
    typer.secho(
        f"Created {org['id']} ({show(org['name'])}) on plan {show(org['plan'])}; {_limits(org)}.",
        fg="green",
    )


@app.command("list")
def list_(
    as_json: bool = JsonOption,
    data_dir: Path = DataDirOption,
    database_url: str = DatabaseUrlOption,
    config_file: Path = ConfigOption,
) -> None:
    """List organizations with their current plan and monthly budgets."""
    orgs = run(Where(data_dir, database_url, config_file), service.list_orgs)
    if as_json:
        print_json(orgs)
        return
    rows = [
        (
            o["id"],
            o["name"],
            o["plan"],
            usd(o["spend_limit_nanos"], 2),
            o["token_limit"],
            o["created_at"],
        )
        for o in orgs
    ]
    columns = ("id", "name", "plan", "spend limit", "token limit", "created")
    print_table("organizations", columns, rows, right=("spend limit", "token limit"))


@app.command("limits")
def limits(
    org: str = typer.Argument(..., metavar="ORG", help="Organization name or id."),
    spend_limit: str = SpendLimitOption,
    token_limit: int = TokenLimitOption,
    data_dir: Path = DataDirOption,
    database_url: str = DatabaseUrlOption,
    config_file: Path = ConfigOption,
) -> None:
    """Set an organization's monthly budgets; a limit not given is removed.

    Example: modelmint orgs limits acme --spend-limit 50 --token-limit 10000000
    """
    request = body(service.OrgLimits, spend_limit=spend_limit, token_limit=token_limit)
    where = Where(data_dir, database_url, config_file)
    updated = run(where, service.set_org_limits, org, request, ACTOR)
    typer.secho(f"{updated['id']} ({show(updated['name'])}): {_limits(updated)}.", fg="green")


@app.command("subscribe")
def subscribe(
    org: str = typer.Argument(..., metavar="ORG", help="Organization name or id."),
    plan: str = typer.Argument(..., metavar="PLAN", help="Plan name or id."),
    starts_at: str = typer.Option(
        None,
        "--starts-at",
        metavar="ISO8601",
        help="When the plan starts, ISO 8601 (UTC unless an offset; now).",
    ),
    data_dir: Path = DataDirOption,
    database_url: str = DatabaseUrlOption,
    config_file: Path = ConfigOption,
) -> None:
    """Move an organization to a plan (invoices prorate the plans by time).

    Example: modelmint orgs subscribe acme pro --starts-at 2026-12-01T00:00:00Z
    """
    request = body(service.Subscribe, plan=plan, starts_at=starts_at)
    sub = run(Where(data_dir, database_url, config_file), service.subscribe, org, request, ACTOR)
    plan_name = show(sub["plan"])
    typer.secho(f"{sub['org_id']} is on plan {plan_name} from {sub['starts_at']}.", fg="green")


@app.command("personalize")
def personalize(
    org: str = typer.Argument(..., metavar="ORG", help="Organization name or id."),
    user: str = typer.Option(
        "", "--user", metavar="USER", help="An end user (a request's `user`); omit for the org."
    ),
    instructions: str = typer.Option(
        None, "--instructions", metavar="TEXT", help="Default instructions for the model."
    ),
    language: str = typer.Option(
        None, "--language", metavar="zh|en", help="The language answers are given in."
    ),
    data_dir: Path = DataDirOption,
    database_url: str = DatabaseUrlOption,
    config_file: Path = ConfigOption,
) -> None:
    """Set the default instructions and answer language of /v1/responses and /v1/ask
    for an organization or one of its end users (neither option: clear them).

    Example: modelmint orgs personalize acme --instructions "Answer politely." --language zh
    """
    request = body(
        personalized.PersonalizationBody, user=user, instructions=instructions, language=language
    )
    where = Where(data_dir, database_url, config_file)
    result = run(where, personalized.set_defaults, org, request, ACTOR)
    who = f"end user {show(result['user'])} of " if result["user"] else ""
    typer.secho(
        f"{who}{result['org_id']}: instructions {show(result['instructions'])}, "
        f"language {show(result['language'])}.",
        fg="green",
    )
