"""`modelmint kb`: knowledge bases on a running server, through its OpenAI API (the
official `openai` client): create a vector store, add files (uploading them) with a
progress bar while they are ingested, list, search, and ask a question with citations."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from modelmint.cli.client import UrlOption, api_client, calling, fail, key_option
from modelmint.core.bounds import printable

app = typer.Typer(
    help="Knowledge bases (vector stores): create, add files, list, search, ask.",
    no_args_is_help=True,
)
KeyOption = key_option("inference")
WaitOption = typer.Option(True, "--wait/--no-wait", help="Show ingestion until it ends.")
POLL_SECONDS = 0.5


def _paths(paths: list[Path]) -> list[Path]:
    """The files given, with every file inside a folder given."""
    found = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            raise fail(f"{path} is not a file or a folder.")
    if not found:
        raise fail("No files to add.")
    return found


def _upload(client: Any, url: str, paths: list[Path]) -> list[str]:
    ids = []
    with _bar() as bar:
        task = bar.add_task("uploading", total=len(paths))
        for path in paths:
            with path.open("rb") as handle:
                made = calling(url, lambda h=handle, p=path: client.files.create(
                    file=(p.name, h), purpose="assistants"))  # fmt: skip
            ids.append(made.id)
            bar.advance(task)
    return ids


def _bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )


def _watch(client: Any, url: str, store_id: str) -> Any:
    """Follow the store's ingestion with a progress bar; its final state."""
    with _bar() as bar:
        task = bar.add_task("ingesting", total=None)
        while True:
            store = calling(url, lambda: client.vector_stores.retrieve(store_id))
            counts = store.file_counts
            done = counts.completed + counts.failed + counts.cancelled
            bar.update(task, total=counts.total, completed=done)
            if counts.in_progress == 0:
                return store
            time.sleep(POLL_SECONDS)


def _report_failures(client: Any, url: str, store_id: str) -> None:
    failed = calling(url, lambda: client.vector_stores.files.list(store_id, filter="failed"))
    for file in failed:
        reason = file.last_error.message if file.last_error else "unknown"
        typer.secho(f"failed: {file.id}: {printable(reason)}", fg="yellow", err=True)


@app.command("create")
def create(
    name: str = typer.Argument(..., help="The knowledge base's name."),
    paths: list[Path] = typer.Argument(None, help="Files or folders to add (optional)."),
    chunk_tokens: int = typer.Option(
        None, "--chunk-tokens", help="Tokens per chunk, 100-4096 (default: auto)."
    ),
    overlap: int = typer.Option(None, "--overlap", help="Overlap tokens, at most half a chunk."),
    wait: bool = WaitOption,
    url: str = UrlOption,
    api_key: str = KeyOption,
) -> None:
    """Create a knowledge base, optionally with files (uploaded and ingested).

    Example: modelmint kb create support docs/ faq.pdf
    """
    client = api_client(url, api_key)
    file_ids = _upload(client, url, _paths(paths)) if paths else []
    extra: dict[str, Any] = {}
    if chunk_tokens is not None:
        sizes = {
            "max_chunk_size_tokens": chunk_tokens,
            "chunk_overlap_tokens": overlap if overlap is not None else chunk_tokens // 2,
        }
        extra["chunking_strategy"] = {"type": "static", "static": sizes}  # fmt: skip
    store = calling(url, lambda: client.vector_stores.create(name=name, file_ids=file_ids, **extra))
    if file_ids and wait:
        store = _watch(client, url, store.id)
        _report_failures(client, url, store.id)
    typer.echo(store.id)


@app.command("add")
def add(
    store_id: str = typer.Argument(..., help="The knowledge base (vs_...)."),
    paths: list[Path] = typer.Argument(..., help="Files or folders to add."),
    wait: bool = WaitOption,
    url: str = UrlOption,
    api_key: str = KeyOption,
) -> None:
    """Upload files into a knowledge base and follow their ingestion.

    Example: modelmint kb add vs_123 manual.docx prices.csv
    """
    client = api_client(url, api_key)
    for file_id in _upload(client, url, _paths(paths)):
        calling(url, lambda f=file_id: client.vector_stores.files.create(store_id, file_id=f))
    if wait:
        _watch(client, url, store_id)
        _report_failures(client, url, store_id)


@app.command("list")
def list_stores(url: str = UrlOption, api_key: str = KeyOption) -> None:
    """The knowledge bases with their files' counts."""
    client = api_client(url, api_key)
    table = Table("id", "name", "status", "files", "failed", "bytes")
    for store in calling(url, lambda: list(client.vector_stores.list(limit=100))):
        counts = store.file_counts
        table.add_row(store.id, printable(store.name), store.status, str(counts.total),
                      str(counts.failed), str(store.usage_bytes))  # fmt: skip
    Console().print(table)


@app.command("search")
def search(
    store_id: str = typer.Argument(..., help="The knowledge base (vs_...)."),
    query: str = typer.Argument(..., help="What to look for."),
    results: int = typer.Option(5, "--results", "-n", help="How many results (1-50)."),
    url: str = UrlOption,
    api_key: str = KeyOption,
) -> None:
    """The chunks that best match a query, best first.

    Example: modelmint kb search vs_123 "退货运费"
    """
    client = api_client(url, api_key)
    found = calling(url, lambda: list(
        client.vector_stores.search(store_id, query=query, max_num_results=results)))  # fmt: skip
    if not found:
        typer.echo("No results.")
    for hit in found:
        typer.secho(f"{hit.score:.3f}  {printable(hit.filename)}", bold=True)
        typer.echo(printable(" ".join(part.text for part in hit.content), keep="\n") + "\n")


@app.command("ask")
def ask(
    question: str = typer.Argument(..., help="The question."),
    store_ids: list[str] = typer.Option(
        None, "--kb", help="Knowledge bases to ask (repeat; default: all of yours)."
    ),
    url: str = UrlOption,
    api_key: str = KeyOption,
) -> None:
    """Answer a question from your knowledge bases, with its citations.

    Example: modelmint kb ask "签收后多少天内可以退货？" --kb vs_123
    """
    client = api_client(url, api_key)
    body: dict[str, Any] = {"question": question}
    if store_ids:
        body["vector_store_ids"] = store_ids
    answer = calling(url, lambda: client.post("/ask", body=body, cast_to=object))
    typer.echo(printable(answer["answer"], keep="\n"))
    for number, citation in enumerate(answer["citations"], 1):
        typer.secho(f"[{number}] {printable(citation['filename'])} ({citation['score']:.3f})",
                    fg="cyan")  # fmt: skip
