"""`modelmint jobs`: fine-tuning jobs on a running server, through its OpenAI API (the
official `openai` client): create (uploading the data), list, watch with a progress bar,
cancel."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from modelmint.cli.client import UrlOption, api_client, calling, fail, key_option
from modelmint.core.bounds import printable

app = typer.Typer(help="Fine-tuning jobs: create, list, watch, cancel.", no_args_is_help=True)
FINISHED = ("succeeded", "failed", "cancelled")
KeyOption = key_option("fine_tune")


@app.command("create")
def create(
    training_file: str = typer.Argument(..., help="A chat JSONL to upload, or a file id."),
    model: str = typer.Option(
        "default", "--model", "-m",
        help="The base model: a chat model, or an embeddings model (minilm) for a text classifier.",
    ),  # fmt: skip
    validation_file: str = typer.Option(None, "--validation", help="A JSONL or a file id."),
    suffix: str = typer.Option(None, "--suffix", help="Part of the model's name (1-64 chars)."),
    epochs: int = typer.Option(None, "--epochs", help="Passes over the data (default: auto)."),
    batch_size: int = typer.Option(None, "--batch-size", help="Examples per step (default: auto)."),
    lr_multiplier: float = typer.Option(
        None, "--lr-multiplier", help="Times the recipe's learning rate (default: 1)."
    ),
    seed: int = typer.Option(None, "--seed", help="For a reproducible run."),
    watch_it: bool = typer.Option(False, "--watch", "-w", help="Follow it until it ends."),
    url: str = UrlOption,
    api_key: str = KeyOption,
) -> None:
    """Upload the data (if a path) and start a fine-tuning job.

    Example: modelmint jobs create facts.jsonl --suffix facts --epochs 5 --watch
    """
    client = api_client(url, api_key)
    training = _file_id(client, url, training_file)
    validation = _file_id(client, url, validation_file) if validation_file else None
    given = {
        "n_epochs": epochs,
        "batch_size": batch_size,
        "learning_rate_multiplier": lr_multiplier,
    }
    hyperparameters = {k: v for k, v in given.items() if v is not None}
    job = calling(
        url,
        lambda: client.fine_tuning.jobs.create(
            model=model,
            training_file=training,
            validation_file=validation,
            suffix=suffix,
            seed=seed,
            method={"type": "supervised", "supervised": {"hyperparameters": hyperparameters}},
        ),
    )
    typer.echo(f"Created {job.id} ({job.status}); follow it with `modelmint jobs watch {job.id}`.")
    if watch_it:
        _watch(client, url, job.id)


def _file_id(client: Any, url: str, given: str) -> str:
    if given.startswith("file-"):
        return given
    path = Path(given)
    if not path.is_file():
        raise fail(f"No file at {path}: give a chat JSONL, or the id of an uploaded file.")
    with path.open("rb") as handle:
        uploaded = calling(url, lambda: client.files.create(file=handle, purpose="fine-tune"))
    typer.echo(f"Uploaded {path.name} as {uploaded.id} ({uploaded.bytes} bytes).")
    return uploaded.id


@app.command("list")
def list_jobs(
    limit: int = typer.Option(20, "--limit", min=1, max=100, help="How many, newest first."),
    url: str = UrlOption,
    api_key: str = KeyOption,
) -> None:
    """Your organization's fine-tuning jobs, newest first."""
    client = api_client(url, api_key)
    page = calling(url, lambda: client.fine_tuning.jobs.list(limit=limit))
    table = Table("id", "status", "model", "fine-tuned model", "trained tokens", "created")
    for job in page.data:
        created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(job.created_at))
        table.add_row(
            job.id,
            job.status,
            job.model,
            job.fine_tuned_model or "",
            str(job.trained_tokens or ""),
            created,
        )
    Console().print(table)


@app.command("watch")
def watch(
    job_id: str = typer.Argument(..., help="The job's id (ftjob-...)."),
    url: str = UrlOption,
    api_key: str = KeyOption,
) -> None:
    """Follow a job with a progress bar (step, loss, time left) until it ends."""
    _watch(api_client(url, api_key), url, job_id)


def _watch(client: Any, url: str, job_id: str) -> None:
    jobs, seen = client.fine_tuning.jobs, set()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("step {task.completed:.0f}/{task.total:.0f}"),
        TextColumn("loss {task.fields[loss]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(job_id, total=None, loss="-")
        while True:
            job = calling(url, lambda: jobs.retrieve(job_id))
            events = calling(url, lambda: jobs.list_events(job_id, limit=100)).data
            for event in reversed(events):
                if event.id in seen:
                    continue
                seen.add(event.id)
                data = event.data or {}
                if event.type == "metrics" and "step" in data:
                    bar.update(
                        task,
                        total=data["total_steps"],
                        completed=data["step"],
                        loss=f"{data['train_loss']:.4f}",
                    )
                else:
                    bar.console.print(printable(event.message))
            bar.update(task, description=f"{job_id} {job.status}")
            if job.status in FINISHED:
                break
            time.sleep(2)
    if job.status != "succeeded":
        error = job.error.message if job.error else job.status
        raise fail(f"The job {job.status}: {error}")
    typer.secho(f"Done: call it as model {job.fine_tuned_model!r}.", fg="green")


@app.command("cancel")
def cancel(
    job_id: str = typer.Argument(..., help="The job's id (ftjob-...)."),
    url: str = UrlOption,
    api_key: str = KeyOption,
) -> None:
    """Stop a job; it is billed for the tokens it trained."""
    client = api_client(url, api_key)
    job = calling(url, lambda: client.fine_tuning.jobs.cancel(job_id))
    typer.echo(f"{job.id}: {job.status}")
