"""`modelmint chat`: an interactive, streaming chat with a running server.

It speaks the OpenAI API, so it works against any modelmint (or OpenAI-compatible) server.
Type /reset to forget the conversation and /exit (or Ctrl-D) to leave.
"""

from __future__ import annotations

import json

import httpx
import typer
from rich.console import Console

from modelmint.core.bounds import printable

DEFAULT_URL = "http://127.0.0.1:8000/v1"


def _stream_answer(client: httpx.Client, body: dict, out: Console) -> str:
    parts: list[str] = []
    with client.stream("POST", "/chat/completions", json=body) as response:
        if response.status_code >= 400:
            response.read()
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text
            message = printable(str(message), keep="\n")
            raise typer.BadParameter(f"the server answered {response.status_code}: {message}")
        for line in response.iter_lines():
            if not line.startswith("data:") or line.strip() == "data: [DONE]":
                continue
            chunk = json.loads(line[5:])
            if "error" in chunk:
                raise typer.BadParameter(printable(str(chunk["error"]["message"]), keep="\n"))
            for choice in chunk.get("choices", []):
                text = choice.get("delta", {}).get("content") or ""
                parts.append(text)
                # a model may write escape sequences: show them, never let them act
                safe = printable(text, keep="\n\t")
                out.print(safe, end="", markup=False, highlight=False, soft_wrap=True)
    out.print()
    return "".join(parts)


def chat(
    once: str = typer.Option(None, "--once", help="Ask one question, print the answer and exit."),
    model: str = typer.Option("default", "--model", "-m", help="Model name or alias."),
    system: str = typer.Option(None, "--system", "-s", help="System prompt for the conversation."),
    temperature: float = typer.Option(None, "--temperature", help="Sampling temperature (0-2)."),
    max_tokens: int = typer.Option(
        None, "--max-tokens", help="Longest answer in tokens (default: what the context allows)."
    ),
    url: str = typer.Option(
        DEFAULT_URL, "--url", envvar="MODELMINT_URL", help="The server's /v1 URL."
    ),
    api_key: str = typer.Option(
        None, "--api-key", envvar="MODELMINT_API_KEY", help="API key, if the server needs one."
    ),
) -> None:
    """Chat with a model on a running server (start one with `modelmint serve`)."""
    out = Console()
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    history: list[dict] = [{"role": "system", "content": system}] if system else []
    with httpx.Client(base_url=url, headers=headers, timeout=None) as client:
        try:
            while True:
                question = once if once is not None else _prompt(out)
                if question is None or question.strip() == "/exit":
                    break
                if question.strip() == "/reset":
                    history = history[:1] if system else []
                    continue
                history.append({"role": "user", "content": question})
                body = {
                    "model": model,
                    "messages": history,
                    "stream": True,
                }
                if max_tokens is not None:
                    body["max_tokens"] = max_tokens
                if temperature is not None:
                    body["temperature"] = temperature
                answer = _stream_answer(client, body, out)
                history.append({"role": "assistant", "content": answer})
                if once is not None:
                    break
        except httpx.ConnectError as exc:
            typer.secho(
                f"Cannot reach {url}: start a server with `modelmint serve`, or pass --url.",
                fg="red",
                err=True,
            )
            raise typer.Exit(1) from exc
        except typer.BadParameter as exc:
            typer.secho(f"Error: {exc}", fg="red", err=True)
            raise typer.Exit(1) from exc


def _prompt(out: Console) -> str | None:
    try:
        return out.input("[bold cyan]you>[/bold cyan] ")
    except (EOFError, KeyboardInterrupt):
        out.print()
        return None
