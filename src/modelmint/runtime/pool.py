"""The model pool: builds one engine per registry entry, starts them (at start, or on first
use where the registry says so) and stops them together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

from modelmint.core.errors import ModelNotReadyError
from modelmint.runtime.engine import Engine
from modelmint.runtime.registry import ModelSpec, Registry

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PoolOptions:
    threads: int = 2
    max_queue: int = 64


def build_engine(spec: ModelSpec, options: PoolOptions) -> Engine:
    """Make the engine a spec names. Engines import their heavy libraries lazily."""
    if spec.engine == "llamacpp":
        from modelmint.runtime.llamacpp import LlamaCppEngine

        return LlamaCppEngine(
            _weights(spec),
            context_length=spec.context_length,
            parallel=spec.parallel,
            max_queue=options.max_queue,
            threads=options.threads,
            batch_size=spec.batch_size,
            prefill_chunk=spec.prefill_chunk,
            prompt_cache_mb=spec.prompt_cache_mb,
            default_system_prompt=spec.default_system_prompt,
        )
    if spec.engine == "transformers":
        from modelmint.runtime.hf import TransformersEngine

        return TransformersEngine(
            _weights(spec),
            context_length=spec.context_length,
            parallel=spec.parallel,
            max_queue=options.max_queue,
            threads=options.threads,
            default_system_prompt=spec.default_system_prompt,
        )
    if spec.engine == "embeddings":
        from modelmint.runtime.embeddings import SentenceTransformersEngine

        return SentenceTransformersEngine(
            _weights(spec),
            context_length=spec.context_length,
            threads=options.threads,
            max_queue=options.max_queue,
        )
    if spec.engine == "upstream":
        from modelmint.runtime.upstream import UpstreamEngine

        return UpstreamEngine.from_env_key(
            spec.base_url or "",
            spec.upstream_model or spec.name,
            spec.api_key_env,
            context_length=spec.context_length,
            parallel=spec.parallel,
            max_queue=options.max_queue,
            timeout=spec.timeout_seconds,
        )
    from modelmint.runtime.fake import FakeEngine

    return FakeEngine(
        context_length=spec.context_length, parallel=spec.parallel, max_queue=options.max_queue
    )


def _weights(spec: ModelSpec) -> Path:
    """The weights' path, found now (a missing package fails at start); weights in parts
    of a model loaded on first use are put together when it loads, not at start."""
    return spec.weights_path(assemble=not spec.load_on_first_use)


class ModelPool:
    def __init__(self, registry: Registry, engines: dict[str, Engine]) -> None:
        self.registry = registry
        self.engines = engines
        # one load per model, owned by the pool: a request that gives up waiting (its
        # client left) does not stop it, and the next request waits on the same load
        self._loads: dict[str, asyncio.Task[None]] = {}

    @classmethod
    def from_registry(cls, registry: Registry, options: PoolOptions) -> ModelPool:
        return cls(
            registry, {name: build_engine(spec, options) for name, spec in registry.specs.items()}
        )

    async def start(self) -> None:
        """Load every model but those the registry loads on first use."""
        for name in self.engines:
            if not self.registry.specs[name].load_on_first_use:
                logger.info("loading model %s (%s)", name, self.engines[name].kind)
                await self.engines[name].start()

    async def close(self) -> None:
        for load in self._loads.values():
            with contextlib.suppress(BaseException):
                await load  # a load under way finishes before its engine closes
        await asyncio.gather(*(engine.close() for engine in self.engines.values()))

    @property
    def ready(self) -> bool:
        """Every model loaded at start is loaded."""
        return all(
            engine.ready
            for name, engine in self.engines.items()
            if not self.registry.specs[name].load_on_first_use
        )

    async def acquire(self, name: str) -> tuple[ModelSpec, Engine]:
        """As `get`, loading a model the registry loads on first use (the caller waits; a
        load that fails is a 503 naming why, and the next request tries again)."""
        spec = self.registry.resolve(name)
        if spec.load_on_first_use and not self.engines[spec.name].ready:
            load = self._loads.get(spec.name)
            if load is None or (load.done() and (load.cancelled() or load.exception())):
                load = self._loads[spec.name] = asyncio.create_task(self._load(spec.name))
            await asyncio.shield(load)
        return self.get(name)

    async def _load(self, name: str) -> None:
        engine, spec = self.engines[name], self.registry.specs[name]
        logger.info("loading model %s (%s) on first use", name, engine.kind)
        try:
            if spec.parts > 1:
                await asyncio.to_thread(spec.weights_path)  # the pieces put together
            await engine.start()
        except Exception as exc:
            logger.exception("model %s failed to load", name)
            with contextlib.suppress(Exception):
                await engine.close()  # frees what the failed load left
            raise ModelNotReadyError(
                f"The model {name!r} failed to load ({type(exc).__name__}); retry, or ask "
                "the operator to check the server's log."
            ) from exc

    def get(self, name: str) -> tuple[ModelSpec, Engine]:
        spec = self.registry.resolve(name)
        engine = self.engines[spec.name]
        if not engine.ready:
            raise ModelNotReadyError(f"The model {spec.name!r} is still loading; retry shortly.")
        return spec, engine

    def queue_depth(self) -> dict[str, int]:
        return {name: engine.stats().waiting for name, engine in self.engines.items()}
