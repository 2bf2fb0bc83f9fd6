"""What the CLI commands that speak to a running server share: the official `openai`
client for `--url` and `--api-key`, and its errors turned into a message that says what
to do and exit code 1."""

from __future__ import annotations

from typing import Any

import typer

from modelmint.cli.chat import DEFAULT_URL
from modelmint.core.bounds import printable

UrlOption = typer.Option(DEFAULT_URL, "--url", envvar="MODELMINT_URL", help="The server's /v1 URL.")


def key_option(scope: str) -> Any:
    return typer.Option(
        None, "--api-key", envvar="MODELMINT_API_KEY", help=f"An API key with the {scope} scope."
    )


def api_client(url: str, api_key: str | None) -> Any:
    from openai import OpenAI

    return OpenAI(base_url=url, api_key=api_key or "none", max_retries=0, timeout=60)


def fail(message: str) -> typer.Exit:
    typer.secho(printable(message, keep="\n"), fg="red", err=True)
    return typer.Exit(1)


def calling(url: str, work: Any) -> Any:
    """Run `work()`, turning the client's errors into a message and exit code 1."""
    import openai

    try:
        return work()
    except openai.APIConnectionError:
        message = f"Cannot reach {url}: start a server with `modelmint serve`, or pass --url."
        raise fail(message) from None
    except openai.APIStatusError as error:
        message = error.body.get("message") if isinstance(error.body, dict) else error.message
        raise fail(f"The server answered {error.status_code}: {message}") from None
