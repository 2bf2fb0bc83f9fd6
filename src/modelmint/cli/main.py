"""The `modelmint` Typer application; each command lives in its own module."""

from __future__ import annotations

import typer

from modelmint import __version__
from modelmint.cli import (
    admin,
    chat,
    evaluate,
    export,
    invoices,
    jobs,
    kb,
    keys,
    models,
    orgs,
    plans,
    privacy,
    serve,
    usage,
    worker,
)

app = typer.Typer(
    name="modelmint",
    help="Run real models as a paid, OpenAI-compatible service on your own hardware.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
app.command("serve")(serve.serve)
app.command("chat")(chat.chat)
app.command("models")(models.models)
app.command("export-hf")(export.export_hf)
app.command("usage")(usage.usage)
app.command("worker")(worker.worker)
app.command("eval")(evaluate.eval_command)
app.add_typer(admin.app, name="admin")
app.add_typer(orgs.app, name="orgs")
app.add_typer(keys.app, name="keys")
app.add_typer(plans.app, name="plans")
app.add_typer(invoices.app, name="invoices")
app.add_typer(privacy.app, name="privacy")
app.add_typer(jobs.app, name="jobs")
app.add_typer(kb.app, name="kb")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"modelmint {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Run real models as a paid, OpenAI-compatible service on your own hardware.

    Settings come from flags, then MODELMINT_* environment variables, then a TOML
    config file (--config or MODELMINT_CONFIG_FILE). MODELMINT_DATA_DIR says where all
    state lives.
    """
