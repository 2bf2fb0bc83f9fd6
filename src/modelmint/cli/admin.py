"""`modelmint admin`: bootstrap administration (the first admin key), straight on the
database."""

from __future__ import annotations

from pathlib import Path

import typer

from modelmint.cli.database import DatabaseUrlOption, Where, run
from modelmint.cli.keys import show_new_key
from modelmint.cli.options import ConfigOption, DataDirOption
from modelmint.services import admin as service

app = typer.Typer(help="Bootstrap administration: the first admin key.", no_args_is_help=True)


@app.command("init")
def init(
    force: bool = typer.Option(
        False, "--force", help="Make another admin key even though one exists."
    ),
    if_missing: bool = typer.Option(
        False, "--if-missing", help="Do nothing (exit 0) when an admin key exists already."
    ),
    data_dir: Path = DataDirOption,
    database_url: str = DatabaseUrlOption,
    config_file: Path = ConfigOption,
) -> None:
    """Create the first admin key (with the `admin` org and the starter plan).

    The key is printed once; only its digest is stored. Use it with the admin API or
    make more keys with `modelmint keys create`.
    """
    where = Where(data_dir, database_url, config_file)
    if if_missing and not force and run(where, service.has_admin_key):
        typer.secho("An admin key exists already; nothing to do.", err=True)
        return
    created = run(where, service.init_admin, force, secret=True)
    show_new_key(created, "Admin key")
