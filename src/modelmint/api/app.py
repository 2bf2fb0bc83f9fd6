"""`create_app(settings)`: the FastAPI application, its model pool and its metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from modelmint import __version__
from modelmint.api.deps import AppState
from modelmint.api.errors import install_error_handlers
from modelmint.api.metrics import Metrics
from modelmint.api.middleware import RequestContextMiddleware
from modelmint.api.routes import (
    admin,
    files,
    fine_tuning,
    health,
    openai,
    responses,
    tasks,
    vector_stores,
)
from modelmint.core.activity import ServingActivity
from modelmint.core.settings import Settings
from modelmint.runtime.pool import ModelPool, PoolOptions
from modelmint.runtime.registry import Registry
from modelmint.services.knowledge import Knowledge
from modelmint.services.models import FineTunedOptions, Models
from modelmint.services.platform import Platform
from modelmint.services.tasks import Tasks

UPLOAD_FRAMING_BYTES = 64 * 1024
IDLE_CHECK_SECONDS = 60.0
ACTIVITY_MARK_SECONDS = 0.25  # well inside the mark's freshness (core.activity)
STORE_EXPIRY_SECONDS = 600.0  # an expired store is refused at once, its chunks deleted within this


def build_pool(settings: Settings) -> ModelPool:
    registry = Registry.from_file(settings.models_file)
    if settings.load_models:
        registry = registry.only(settings.load_models)
    return ModelPool.from_registry(
        registry, PoolOptions(threads=settings.threads, max_queue=settings.max_queue)
    )


def create_app(settings: Settings, pool: ModelPool | None = None) -> FastAPI:
    """The app; it loads `pool` (built from `settings` when not given) on startup."""
    pool = pool or build_pool(settings)
    platform = Platform.from_settings(settings, pool.registry)
    models = Models(
        pool,
        platform.infra.db,
        FineTunedOptions(
            memory_mb=settings.fine_tuned_memory_mb,
            idle_seconds=settings.fine_tuned_idle_seconds,
            pool=PoolOptions(threads=settings.threads, max_queue=settings.max_queue),
        ),
    )
    platform.chores.add("unload-idle-fine-tunes", IDLE_CHECK_SECONDS, models.unload_idle)
    knowledge = Knowledge(
        platform,
        models,
        pool.registry,
        settings.knowledge_embedding_model,
        settings.knowledge_cache_chunks,
    )
    purge = knowledge.stores.purge_expired
    platform.chores.add("purge-expired-stores", STORE_EXPIRY_SECONDS, purge)
    task_services = Tasks(platform, models, knowledge.terms, settings.knowledge_embedding_model)
    activity = ServingActivity(settings.data_dir)

    async def mark_activity() -> None:
        # a worker training beside this server pauses while the mark is fresh
        if models.generating():
            activity.mark()  # one utime on the local disk: no thread hop needed

    platform.chores.add("mark-serving-activity", ACTIVITY_MARK_SECONDS, mark_activity)
    metrics = Metrics()
    metrics.watch_pool(
        lambda: {n: (e.stats().running, e.stats().waiting) for n, e in pool.engines.items()}
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await platform.start()
        try:
            await pool.start()
            knowledge.start()
            try:
                yield
            finally:
                await knowledge.close()
                await models.close()
                await pool.close()
        finally:
            await platform.close()

    app = FastAPI(
        title="modelmint",
        version=__version__,
        summary="Real models behind an OpenAI-compatible API.",
        lifespan=lifespan,
    )
    app.state.modelmint = AppState(
        settings, pool, metrics, platform, models, knowledge, task_services
    )
    install_error_handlers(app)
    app.include_router(openai.router)
    app.include_router(files.router)
    app.include_router(fine_tuning.router)
    app.include_router(vector_stores.router)
    app.include_router(tasks.router)
    app.include_router(responses.router)
    app.include_router(health.router)
    app.include_router(admin.router)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        metrics=metrics,
        # an upload is the file and a few form fields around it
        larger_bodies={("POST", "/v1/files"): settings.max_file_bytes + UPLOAD_FRAMING_BYTES},
    )
    return app
