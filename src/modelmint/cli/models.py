"""`modelmint models`: list the models a registry offers and whether their weights are found."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from modelmint.cli.options import ModelsOption
from modelmint.core.bounds import printable
from modelmint.runtime.registry import Registry


def models(models_file: Path = ModelsOption) -> None:
    """List the models in the registry (built-in, or --models FILE)."""
    try:
        registry = Registry.from_file(models_file)
    except (FileNotFoundError, ValueError) as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from exc
    table = Table(title="models")
    for column in ("name", "aliases", "engine", "context", "weights"):
        table.add_column(column)
    for spec in registry.specs.values():
        if spec.engine in ("upstream", "fake"):
            where = Text(printable(spec.base_url or "-"))
        else:
            try:
                where = Text(printable(str(spec.weights_path(assemble=False))))
            except FileNotFoundError as exc:
                where = Text(printable(str(exc)), style="red")
        cells = (spec.name, ", ".join(spec.aliases), spec.engine, str(spec.context_length))
        table.add_row(*(Text(printable(cell)) for cell in cells), where)
    Console().print(table)
