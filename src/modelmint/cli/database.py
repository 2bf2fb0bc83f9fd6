"""Shared by the business commands: the database options, opening the database (settings,
migrations, the server secret) for one transaction, turning the services' errors into red
messages and exit codes, and printing tables, money and JSON.

Names come from the database, where older versions (or other tools) may have left control
characters: everything printed goes through `show`, which writes them as \\xNN escapes, so
no raw escape sequence ever reaches the terminal."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from modelmint.billing.money import format_usd
from modelmint.cli.options import build_settings
from modelmint.core.bounds import check_int, check_month, printable
from modelmint.store.database import Database
from modelmint.tenancy.secret import load_secret

T = TypeVar("T")
B = TypeVar("B", bound=BaseModel)

ACTOR = "cli"

DatabaseUrlOption = typer.Option(
    None,
    "--database-url",
    metavar="URL",
    help="SQLAlchemy URL (env MODELMINT_DATABASE_URL; default: SQLite in the data dir).",
)
JsonOption = typer.Option(False, "--json", help="Print JSON instead of a table.")


class Where(NamedTuple):
    """Where the state lives, as given on the command line (None: settings decide)."""

    data_dir: Path | None
    database_url: str | None
    config_file: Path | None = None


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(printable(message, keep="\n"), fg="red", err=True)
    return typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """The services' errors as a red line and an exit code, never a traceback."""
    try:
        yield
    except ValidationError as exc:  # a ValueError too, so first
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'input'}: {error['msg']}"
            for error in exc.errors()
        )
        raise fail(f"Invalid input: {problems}", 2) from exc
    except LookupError as exc:
        raise fail(str(exc.args[0]) if exc.args else str(exc)) from exc
    except ValueError as exc:
        raise fail(str(exc)) from exc
    except SQLAlchemyError as exc:
        raise fail(f"Database error: {exc.__class__.__name__}: {exc.args[0]}") from exc


def within(low: int, high: int) -> Callable[[typer.CallbackParam, int | None], int | None]:
    """A typer callback: the option's number in [low, high], or a usage error naming both
    (the same bounds as the API's, from core/bounds.py)."""

    def check(param: typer.CallbackParam, value: int | None) -> int | None:
        if value is None:
            return None
        try:
            return check_int(param.opts[0] if param.opts else str(param.name), value, low, high)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc

    return check


def checked_month(value: str | None) -> str | None:
    """A typer callback: a YYYY-MM month within the store's bounds, or a usage error."""
    if value is None:
        return None
    try:
        return check_month("the month", value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def body(schema: type[B], /, **fields: Any) -> B:
    """Build a request body from options; options not given keep the schema's defaults."""
    given = {key: value for key, value in fields.items() if value not in (None, [], ())}
    with user_errors():
        return schema(**given)


def run(where: Where, fn: Callable[..., T], *args: Any, secret: bool = False) -> T:
    """Run `fn(connection, [secret,] *args)` in one transaction on a migrated database."""
    settings = build_settings(
        data_dir=where.data_dir, database_url=where.database_url, config_file=where.config_file
    )
    with user_errors():
        if secret:
            configured = settings.secret_key.get_secret_value() if settings.secret_key else None
            args = (load_secret(settings.data_dir, configured), *args)
        db = Database(settings.resolved_database_url())
        try:
            db.migrate()
            return db.run(fn, *args)
        finally:
            db.close()


def usd(nanos: int | None, places: int = 4) -> str:
    return "-" if nanos is None else format_usd(nanos, places)


def show(value: Any) -> str:
    """A value as text for the terminal: None as "-", lists joined, controls escaped."""
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ", ".join(printable(str(item)) for item in value) or "-"
    return printable(str(value))


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def print_table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    right: Sequence[str] = (),
    totals: Sequence[Any] | None = None,
    whole: Sequence[str] = ("id",),
) -> None:
    """A rich table; cells are plain text (a name with [brackets] is not markup)."""
    table = Table(title=Text(printable(title)))
    for index, column in enumerate(columns):
        keep = column in whole  # ids are copied from here: never wrapped or cut
        widest = max((len(show(row[index])) for row in rows), default=0) if keep else None
        justify = "right" if column in right else "left"
        table.add_column(column, justify=justify, no_wrap=keep, min_width=widest, overflow="fold")
    for row in rows:
        table.add_row(*(Text(show(cell)) for cell in row))
    if totals is not None:
        table.add_section()
        table.add_row(*(Text(show(cell), style="bold") for cell in totals))
    Console().print(table)
