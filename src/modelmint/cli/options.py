"""Turning command-line flags into `Settings`: only flags the user gave override."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from modelmint.core.settings import Settings


def build_settings(**flags: Any) -> Settings:
    given = {key: value for key, value in flags.items() if value not in (None, [], ())}
    try:
        return Settings(**given)
    except (ValidationError, FileNotFoundError, ValueError) as exc:
        typer.secho(f"Invalid settings: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc


ConfigOption = typer.Option(
    None,
    "--config",
    help="TOML settings file (keys as the MODELMINT_* variables, lowercase).",
    exists=True,
    dir_okay=False,
)
ModelsOption = typer.Option(
    None,
    "--models",
    "-m",
    help="TOML models registry (default: the built-in models).",
    exists=True,
    dir_okay=False,
)
DataDirOption = typer.Option(
    None, "--data-dir", help="Where all state lives (env MODELMINT_DATA_DIR)."
)


def path_or_none(value: Path | None) -> Path | None:
    return value.resolve() if value else None
