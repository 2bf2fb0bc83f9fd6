"""`modelmint worker`: run fine-tuning jobs from the database's queue until stopped.

Any number of workers, on any number of machines sharing the database (and the data dir,
where checkpoints and the fine-tuned models are written), drain one queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import typer

from modelmint.cli.options import ConfigOption, DataDirOption, ModelsOption, build_settings
from modelmint.core.logging import configure_logging
from modelmint.core.settings import Settings

PARENT_CHECK_SECONDS = 1.0


def worker(
    threads: int = typer.Option(
        None, "--threads", "-t", help="CPU threads to train on (default: 1)."
    ),
    nice: int = typer.Option(
        0, "--nice", min=0, max=19, help="Lower this process's CPU priority (0-19)."
    ),
    idle: bool = typer.Option(
        False,
        "--idle",
        help="Train only on CPU time nothing else wants (Linux SCHED_IDLE): what the worker "
        "beside `modelmint serve` does, so serving keeps its speed.",
    ),
    yield_to_serving: bool = typer.Option(
        True,
        "--yield/--no-yield",
        help="Pause training while a server on this machine with the same data dir is "
        "answering requests, so chats keep serving speed (a worker on its own machine "
        "never pauses).",
    ),
    lease_seconds: float = typer.Option(
        None,
        "--lease-seconds",
        help="How long a job waits for another worker after this one stops renewing "
        "its lease (default: 30).",
    ),
    checkpoint_every: int = typer.Option(
        None, "--checkpoint-every", help="Optimizer steps between checkpoints (default: 10)."
    ),
    worker_id: str = typer.Option(
        "", "--id", help="This worker's name in the jobs table (default: host and a random tag)."
    ),
    parent: int = typer.Option(
        0,
        "--parent",
        help="Stop (leaving a running job to resume) once the process PARENT is gone: what "
        "`modelmint serve` passes its own worker.",
    ),
    models_file: Path = ModelsOption,
    config_file: Path = ConfigOption,
    data_dir: Path = DataDirOption,
    database_url: str = typer.Option(
        None, "--database-url", help="SQLAlchemy URL (default: SQLite in the data dir)."
    ),
    log_level: str = typer.Option(None, "--log-level", help="debug, info, warning or error."),
) -> None:
    """Run fine-tuning jobs (POST /v1/fine_tuning/jobs) until Ctrl-C.

    `modelmint serve` runs one of these beside the server unless --no-worker.

    Example: modelmint worker --threads 2
    """
    settings = build_settings(
        worker_threads=threads,
        worker_lease_seconds=lease_seconds,
        fine_tune_checkpoint_every=checkpoint_every,
        models_file=models_file,
        config_file=config_file,
        data_dir=data_dir,
        database_url=database_url,
        log_level=log_level,
    )
    configure_logging(settings.log_level)
    if nice:
        os.nice(nice)
    check_quant(settings.fine_tune_quant)
    if idle:
        run_when_idle()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_worker(settings, worker_id, yield_to_serving, parent))


def check_quant(quant: str) -> None:
    """A bad MODELMINT_FINE_TUNE_QUANT fails here, not in every job after its training."""
    from modelmint.training.gguf_export import FORMATS

    if quant not in FORMATS:
        typer.secho(
            f"MODELMINT_FINE_TUNE_QUANT is {quant!r}; set it to one of {', '.join(FORMATS)}.",
            err=True,
            fg="red",
        )
        raise typer.Exit(2)


def run_when_idle() -> None:
    """SCHED_IDLE, not just nice 19: a nice process still takes time slices from the
    serving engine's threads, and llama.cpp's threads wait for each other at every step,
    so one slice taken from one of them stalls them all (chat latency rose from 0.7 s to
    90 s at nice 19)."""
    if not hasattr(os, "SCHED_IDLE"):
        typer.secho("--idle needs Linux; running at the lowest priority instead.", err=True)
        os.nice(19)
        return
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


async def run_worker(
    settings: Settings, worker_id: str = "", yield_to_serving: bool = True, parent: int = 0
) -> None:
    import torch

    from modelmint.runtime.registry import Registry
    from modelmint.services.job_platform import JobServices
    from modelmint.services.platform import Platform
    from modelmint.training.worker import Worker, WorkerOptions

    torch.set_num_threads(settings.worker_threads)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    registry = Registry.from_file(settings.models_file)
    platform = Platform.from_settings(settings)
    await platform.start()
    options = WorkerOptions(
        worker_id=worker_id,
        lease_seconds=settings.worker_lease_seconds,
        checkpoint_every=settings.fine_tune_checkpoint_every,
        quant=settings.fine_tune_quant,
        quality_set=settings.fine_tune_quality_set,
        replay=settings.fine_tune_replay,
        yield_to=settings.data_dir if yield_to_serving else None,
    )
    services = JobServices(platform, registry, settings.data_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    orphaned = asyncio.create_task(_stop_when_gone(parent, stop)) if parent else None
    try:
        await Worker(platform.infra.db, services, options).run(stop)
    finally:
        if orphaned is not None:
            orphaned.cancel()
        await platform.close()


async def _stop_when_gone(parent: int, stop: asyncio.Event) -> None:
    """Set `stop` once this process's parent is no longer `parent` (it died and the
    process was handed to another)."""
    while os.getppid() == parent:
        await asyncio.sleep(PARENT_CHECK_SECONDS)
    stop.set()
