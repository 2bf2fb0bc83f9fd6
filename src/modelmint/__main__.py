"""`python -m modelmint`: the same as the `modelmint` command."""

from modelmint.cli.main import app

app()
