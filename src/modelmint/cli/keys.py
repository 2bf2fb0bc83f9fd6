"""`modelmint keys`: create (the key is printed once), list (prefixes only) and revoke
API keys, straight on the database."""

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
from modelmint.core.bounds import MAX_PER_MINUTE, MAX_TOKENS_PER_MONTH
from modelmint.services import admin as service

app = typer.Typer(
    help="Create, list and revoke API keys (only a digest is stored).", no_args_is_help=True
)


def show_new_key(created: dict, what: str = "API key") -> None:
    """Print a new key once, with a warning and how to use it."""
    typer.secho(
        f"{what} {created['id']} created for org {created['org_id']} "
        f"(scopes: {', '.join(created['scopes'])}).",
        fg="green",
    )
    typer.secho(
        "This key is shown only now and cannot be shown again: store it somewhere safe.",
        fg="yellow",
        bold=True,
    )
    typer.echo(f"\n    {created['key']}\n")
    typer.echo("Use it:")
    typer.echo(f"    export MODELMINT_API_KEY={created['key']}")
    typer.echo(
        '    curl -H "Authorization: Bearer $MODELMINT_API_KEY" http://127.0.0.1:8000/v1/models'
    )


@app.command("create")
def create(
    org: str = typer.Option(
        ..., "--org", metavar="ORG", help="Organization name or id the key belongs to."
    ),
    name: str = typer.Option(
        None, "--name", metavar="NAME", help="A label for the key (default: key)."
    ),
    scopes: list[str] = typer.Option(
        None,
        "--scope",
        metavar="SCOPE",
        help="inference, fine_tune or admin (repeatable; default: inference).",
    ),
    models: list[str] = typer.Option(
        None,
        "--model",
        metavar="MODEL",
        help="Only allow this model (repeatable; default: the plan's models).",
    ),
    rpm: int = typer.Option(
        None,
        "--rpm",
        metavar="N",
        callback=within(1, MAX_PER_MINUTE),
        help="Requests per minute for this key.",
    ),
    tpm: int = typer.Option(
        None,
        "--tpm",
        metavar="N",
        callback=within(1, MAX_PER_MINUTE),
        help="Tokens per minute for this key.",
    ),
    spend_limit: str = typer.Option(
        None,
        "--spend-limit",
        metavar="USD",
        help="Monthly spend limit for this key in USD, e.g. 25.00.",
    ),
    token_limit: int = typer.Option(
        None,
        "--token-limit",
        metavar="N",
        callback=within(0, MAX_TOKENS_PER_MONTH),
        help="Monthly tokens for this key.",
    ),
    expires_at: str = typer.Option(
        None,
        "--expires-at",
        metavar="ISO8601",
        help="Expiry, ISO 8601 (UTC unless an offset is given).",
    ),
    data_dir: Path = DataDirOption,
    database_url: str = DatabaseUrlOption,
    config_file: Path = ConfigOption,
) -> None:
    """Create an API key and print it once.

    Example: modelmint keys create --org acme --name ci --scope inference --rpm 60
    """
    request = body(
        service.KeyCreate,
        org=org,
        name=name,
        scopes=scopes,
        allowed_models=models,
        rpm=rpm,
        tpm=tpm,
        spend_limit=spend_limit,
        token_limit=token_limit,
        expires_at=expires_at,
    )
    where = Where(data_dir, database_url, config_file)
    show_new_key(run(where, service.create_key, request, ACTOR, secret=True))


def _status(key: dict) -> str:
    if key["revoked_at"]:
        return f"revoked {key['revoked_at'][:10]}"
    if key["expires_at"]:
        return f"expires {key['expires_at'][:10]}"
    return "active"


def _limits(key: dict) -> str:
    limits = [
        f"{key['rpm']} rpm" if key["rpm"] else "",
        f"{key['tpm']} tpm" if key["tpm"] else "",
        f"{usd(key['spend_limit_nanos'], 2)}/month" if key["spend_limit_nanos"] is not None else "",
        f"{key['token_limit']:,} tokens/month" if key["token_limit"] is not None else "",
    ]
    return ", ".join(limit for limit in limits if limit) or "plan's"


@app.command("list")
def list_(
    org: str = typer.Option(
        None, "--org", metavar="ORG", help="Only this organization's keys (name or id)."
    ),
    as_json: bool = JsonOption,
    data_dir: Path = DataDirOption,
    database_url: str = DatabaseUrlOption,
    config_file: Path = ConfigOption,
) -> None:
    """List API keys: their prefixes, never the keys themselves (--json: every field)."""
    keys = run(Where(data_dir, database_url, config_file), service.list_keys, org)
    if as_json:
        print_json(keys)
        return
    columns = ("id", "org", "name", "prefix", "scopes", "models", "limits", "status")
    rows = [
        (
            k["id"],
            k["org_id"],
            k["name"],
            k["prefix"] + "…",
            k["scopes"],
            k["allowed_models"] or "all",
            _limits(k),
            _status(k),
        )
        for k in keys
    ]
    print_table("API keys", columns, rows)


@app.command("revoke")
def revoke(
    key_id: str = typer.Argument(
        ..., metavar="KEY_ID", help="The key's id (key_…), from `modelmint keys list`."
    ),
    data_dir: Path = DataDirOption,
    database_url: str = DatabaseUrlOption,
    config_file: Path = ConfigOption,
) -> None:
    """Revoke an API key; running servers refuse it within a second."""
    key = run(Where(data_dir, database_url, config_file), service.revoke_key, key_id, ACTOR)
    typer.secho(f"Revoked {key['id']} ({show(key['name'])}, {key['prefix']}…).", fg="green")
