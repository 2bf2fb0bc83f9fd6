"""`modelmint serve`: load the models and serve the OpenAI-compatible API."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer

from modelmint.cli.options import ConfigOption, DataDirOption, ModelsOption, build_settings
from modelmint.core.logging import configure_logging
from modelmint.core.settings import Settings

SWITCH_INTERVAL_SECONDS = 0.0005
WORKER_STOP_SECONDS = 10.0


def serve(
    host: str = typer.Option(None, "--host", help="Address to bind (default: 127.0.0.1)."),
    port: int = typer.Option(None, "--port", "-p", help="Port to listen on (default: 8000)."),
    models_file: Path = ModelsOption,
    threads: int = typer.Option(
        None, "--threads", "-t", help="CPU threads per engine (default: all cores)."
    ),
    max_queue: int = typer.Option(
        None, "--max-queue", help="Requests that may wait before 429 (default: 64)."
    ),
    only: list[str] = typer.Option(None, "--only", help="Load only this model (repeatable)."),
    config_file: Path = ConfigOption,
    data_dir: Path = DataDirOption,
    log_level: str = typer.Option(None, "--log-level", help="debug, info, warning or error."),
    no_auth: bool = typer.Option(
        False,
        "--no-auth",
        help="Serve without API keys (local use only: refuses a non-loopback --host).",
    ),
    database_url: str = typer.Option(
        None, "--database-url", help="SQLAlchemy URL (default: SQLite in the data dir)."
    ),
    redis_url: str = typer.Option(
        None, "--redis-url", help="Redis URL, to share rate limits across replicas."
    ),
    no_worker: bool = typer.Option(
        False,
        "--no-worker",
        help="Do not run a fine-tuning worker beside the server (run `modelmint worker`).",
    ),
) -> None:
    """Serve the models in the registry over an OpenAI-compatible HTTP API.

    API keys are required unless --no-auth; make the first with `modelmint admin init`.

    Example: modelmint serve --port 8000 --threads 2
    """
    import uvicorn

    from modelmint.api import create_app

    # engine threads (llama.cpp steps, torch encodes) run Python between native calls; with
    # the default 5 ms switch interval the event loop can wait that long for the GIL on
    # every hand-off, which throttles many small requests
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)

    settings = build_settings(
        host=host,
        port=port,
        models_file=models_file,
        threads=threads,
        max_queue=max_queue,
        load_models=only,
        config_file=config_file,
        data_dir=data_dir,
        log_level=log_level,
        auth=False if no_auth else None,
        database_url=database_url,
        redis_url=redis_url,
        worker=False if no_worker else None,
    )
    configure_logging(settings.log_level)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        app = create_app(settings)
    except (FileNotFoundError, ValueError) as exc:
        typer.secho(f"Cannot start: {exc}", fg="red", err=True)
        raise typer.Exit(1) from exc
    typer.secho(
        f"modelmint: loading {', '.join(app.state.modelmint.pool.registry.names())}; "
        f"API at http://{settings.host}:{settings.port}/v1 once ready",
        fg="green",
        err=True,
    )
    worker = start_worker(settings) if settings.worker else None
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            log_config=None,
            timeout_graceful_shutdown=5,
        )
    finally:
        if worker is not None:
            stop_worker(worker)


def start_worker(settings: Settings) -> subprocess.Popen:
    """One fine-tuning worker beside the server: a process of its own (training in the
    server's process would take the GIL from the event loop) that trains only on CPU time
    the server leaves (SCHED_IDLE), on `worker_threads` threads."""
    env = dict(os.environ)
    for name in ("data_dir", "database_url", "models_file", "config_file", "redis_url"):
        value = getattr(settings, name)
        if value is not None:
            env[f"MODELMINT_{name.upper()}"] = str(value)
    command = [
        sys.executable,
        "-m",
        "modelmint",
        "worker",
        "--idle",
        "--threads",
        str(settings.worker_threads),
        # it stops if this server dies without stopping it (SIGKILL, a crash)
        "--parent",
        str(os.getpid()),
    ]
    return subprocess.Popen(command, env=env)


def stop_worker(worker: subprocess.Popen) -> None:
    """Stop it; a job it was running is resumed by the next worker from its checkpoint."""
    worker.terminate()
    try:
        worker.wait(timeout=WORKER_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        worker.kill()
