"""`modelmint privacy`: an org's privacy policy, purging and erasing stored bodies, and
re-encrypting them with the newest key, straight on the database."""

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
    run,
    show,
    within,
)
from modelmint.cli.options import ConfigOption, DataDirOption, build_settings
from modelmint.core.bounds import MAX_RETENTION_DAYS
from modelmint.privacy.crypto import Keyring
from modelmint.services import admin as service

app = typer.Typer(
    help="Privacy: PII policy per org, retention, erasure, encryption keys.",
    no_args_is_help=True,
)


def _show(policy: dict) -> None:
    stored = f", {policy['stored']} bodies stored" if "stored" in policy else ""
    typer.echo(
        f"{policy['org_id']}: pii_mode {policy['pii_mode']}, "
        f"store_bodies {str(policy['store_bodies']).lower()}, "
        f"retention {policy['retention_days']} days{stored}"
    )


@app.command("policy")
def policy(
    org: str = typer.Argument(..., metavar="ORG", help="Org name or id."),
    mode: str = typer.Option(
        None, "--mode", help="off, redact_storage, redact_model or block (omit to show)."
    ),
    store_bodies: bool = typer.Option(
        None, "--store-bodies/--no-store-bodies", help="Keep request and response bodies."
    ),
    retention_days: int = typer.Option(
        None,
        "--retention-days",
        callback=within(1, MAX_RETENTION_DAYS),
        help="Keep bodies N days.",
    ),
    as_json: bool = JsonOption,
    data_dir: Path = DataDirOption,
    database_url: str = DatabaseUrlOption,
    config_file: Path = ConfigOption,
) -> None:
    """Show an org's privacy policy, or change it (options not given keep their value).

    Example: modelmint privacy policy acme --mode redact_model --store-bodies --retention-days 7
    """
    where = Where(data_dir, database_url, config_file)
    current = run(where, service.get_privacy, org)
    if mode is not None or store_bodies is not None or retention_days is not None:
        request = body(
            service.PrivacyBody,
            pii_mode=mode if mode is not None else current["pii_mode"],
            store_bodies=store_bodies if store_bodies is not None else current["store_bodies"],
            retention_days=current["retention_days"] if retention_days is None else retention_days,
        )
        current = run(where, service.set_privacy, org, request, ACTOR)
    print_json(current) if as_json else _show(current)


@app.command("purge")
def purge(
    data_dir: Path = DataDirOption,
    database_url: str = DatabaseUrlOption,
    config_file: Path = ConfigOption,
) -> None:
    """Delete stored bodies older than their org's retention (the server also does it hourly)."""
    result = run(Where(data_dir, database_url, config_file), service.purge_bodies, ACTOR)
    typer.echo(f"Purged {result['purged']} stored bodies past their retention.")


@app.command("erase")
def erase(
    org: str = typer.Argument(..., metavar="ORG", help="Org name or id."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    data_dir: Path = DataDirOption,
    database_url: str = DatabaseUrlOption,
    config_file: Path = ConfigOption,
) -> None:
    """Erase every stored body, conversation and stored response of an organization
    (recorded in the audit log)."""
    if not yes:
        typer.confirm(
            f"Erase every stored body and conversation of {show(org)}? This cannot be undone",
            abort=True,
        )
    result = run(Where(data_dir, database_url, config_file), service.erase_bodies, org, ACTOR)
    typer.echo(
        f"Erased {result['erased']} stored bodies and {result['conversations_erased']} "
        f"conversation rows of {result['org_id']}."
    )


@app.command("rotate-keys")
def rotate_keys(
    data_dir: Path = DataDirOption,
    database_url: str = DatabaseUrlOption,
    config_file: Path = ConfigOption,
) -> None:
    """Re-encrypt stored bodies, conversations, stored responses and knowledge base
    chunks with the newest key.

    Add a key first: MODELMINT_ENCRYPTION_KEYS='{"k1": "...", "k2": "<new>"}' (the last
    encrypts), or append one to encryption_keys.json in the data dir.
    """
    settings = build_settings(data_dir=data_dir, database_url=database_url, config_file=config_file)
    configured = settings.encryption_keys.get_secret_value() if settings.encryption_keys else None
    try:
        keyring = Keyring.load(settings.data_dir, configured)
    except ValueError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from exc
    result = run(Where(data_dir, database_url, config_file), service.rotate_keys, keyring, ACTOR)
    typer.echo(
        f"Re-encrypted {result['reencrypted']} bodies, {result['conversation_rows']} "
        f"conversation rows and {result['chunks']} chunks with key {result['active_key']}."
    )
