"""`modelmint eval`: run a question set against a served model and print its score.

It speaks the OpenAI API through the official `openai` client, greedy (temperature 0)
and one question at a time, so it scores any modelmint (or OpenAI-compatible) server.
The set is the built-in quality set unless `--set FILE` names another (see
`modelmint.training.evaluation` for the two forms a set file may take).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from modelmint.core.bounds import printable
from modelmint.training.evaluation import Messages, Question, Score, load_set, score

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"


def eval_command(
    model: str = typer.Argument(..., help="Model name or alias, as the server lists it."),
    set: Path | None = typer.Option(
        None,
        "--set",
        help="A set file (JSONL): quality-set lines or chat fine-tuning lines "
        "(default: the built-in quality set).",
        exists=True,
        dir_okay=False,
    ),
    base_url: str = typer.Option(
        DEFAULT_BASE_URL,
        "--base-url",
        "--url",
        envvar=["MODELMINT_BASE_URL", "MODELMINT_URL"],
        help="The server's /v1 URL.",
    ),
    api_key: str | None = typer.Option(
        None,
        "--api-key",
        envvar=["MODELMINT_API_KEY", "OPENAI_API_KEY"],
        help="An inference key, if the server needs one.",
    ),
    max_tokens: int = typer.Option(
        96, "--max-tokens", min=1, help="Longest answer in tokens, per question."
    ),
) -> None:
    """Score a served model on a question set (start a server with `modelmint serve`).

    Example: modelmint eval default --set held_out.jsonl
    """
    try:
        questions = load_set(set)
    except (ValueError, UnicodeDecodeError) as exc:
        _fail(f"The set cannot be read: {exc}")
    openai = _openai()
    client = openai.OpenAI(base_url=base_url, api_key=api_key or "not-needed", max_retries=5)
    out = Console()
    try:
        # fail fast, without retries, when the server is down or refuses the key
        _reachable(openai, client.with_options(max_retries=0))
        result = _run(client, model, questions, max_tokens, out)
    except openai.OpenAIError as exc:
        _fail(_explain(openai, exc, base_url, model))
    _report(result, out)


def _openai() -> Any:
    try:
        import openai
    except ImportError:
        _fail("`modelmint eval` needs the openai package: run `pip install openai`.")
    return openai


def _reachable(openai: Any, client: Any) -> None:
    """Raises the client's error if the server cannot be reached or refuses the key; a
    server without /models is fine."""
    try:
        client.models.list()
    except (openai.AuthenticationError, openai.PermissionDeniedError):
        raise
    except openai.APIStatusError:
        pass


def _run(
    client: Any, model: str, questions: list[Question], max_tokens: int, out: Console
) -> Score:
    def ask(messages: Messages) -> str:
        response = client.chat.completions.create(
            model=model, messages=messages, max_tokens=max_tokens, temperature=0
        )
        return response.choices[0].message.content or ""

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=out, transient=True) as progress:
        task = progress.add_task(f"asking {printable(model)}", total=len(questions))
        return score(questions, ask, on_result=lambda _: progress.advance(task))


def _explain(openai: Any, exc: Exception, base_url: str, model: str) -> str:
    if isinstance(exc, openai.APIConnectionError):
        return (
            f"Cannot reach {printable(base_url)}: start a server with `modelmint serve`, "
            "or pass --base-url (or set MODELMINT_BASE_URL)."
        )
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return (
            f"The server refused the API key ({_message(exc)}): pass an inference key "
            "with --api-key, or set MODELMINT_API_KEY."
        )
    if isinstance(exc, openai.NotFoundError):
        return (
            f"The server has no model {printable(model)!r} ({_message(exc)}): "
            f"see what it serves at {printable(base_url)}/models."
        )
    if isinstance(exc, openai.APIStatusError):
        return f"The server answered {exc.status_code}: {_message(exc)}"
    return f"The request failed: {_message(exc)}"


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    error = body.get("error", body) if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return printable(str(message or exc))


def _report(result: Score, out: Console) -> None:
    failed = [r for r in result.results if not r.passed]
    if failed:
        table = Table(title="failed")
        table.add_column("id")
        table.add_column("answer")
        for item in failed:
            answer = printable(" ".join(item.answer.split()))
            table.add_row(Text(printable(item.id)), Text(answer[:200]))
        out.print(table)
    out.print(f"score: {result.passed}/{result.total} passed ({result.rate:.0%})")


def _fail(message: str) -> NoReturn:
    typer.secho(message, fg="red", err=True)
    raise typer.Exit(1)
