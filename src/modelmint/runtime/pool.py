"""The model pool: builds one engine per registry entry, starts them (at start, or on first
use where the registry says so) and stops them together."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

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
            spec.weights_path(),
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
            spec.weights_path(),
            context_length=spec.context_length,
            parallel=spec.parallel,
            max_queue=options.max_queue,
            threads=options.threads,
            default_system_prompt=spec.default_system_prompt,
        )
    if spec.engine == "embeddings":
        from modelmint.runtime.embeddings import SentenceTransformersEngine

        return SentenceTransformersEngine(
            spec.weights_path(),
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


class ModelPool:
    def __init__(self, registry: Registry, engines: dict[str, Engine]) -> None:
        self.registry = registry
        self.engines = engines
        self._started: set[str] = set()
        self._starting = asyncio.Lock()

    @classmethod
    def from_registry(cls, registry: Registry, options: PoolOptions) -> ModelPool:
        return cls(
            registry, {name: build_engine(spec, options) for name, spec in registry.specs.items()}
        )

    async def start(self) -> None:
        """Load every model but those the registry loads on first use."""
        for name in self.engines:
            if not self.registry.specs[name].load_on_first_use:
                await self._start(name)

    async def _start(self, name: str) -> None:
        async with self._starting:  # one load at a time, each model once
            if name not in self._started:
                logger.info("loading model %s (%s)", name, self.engines[name].kind)
                await self.engines[name].start()
                self._started.add(name)

    async def close(self) -> None:
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
        """As `get`, loading a model the registry loads on first use (the caller waits)."""
        spec = self.registry.resolve(name)
        if spec.load_on_first_use and spec.name not in self._started:
            await self._start(spec.name)
        return self.get(name)

    def get(self, name: str) -> tuple[ModelSpec, Engine]:
        spec = self.registry.resolve(name)
        engine = self.engines[spec.name]
        if not engine.ready:
            raise ModelNotReadyError(f"The model {spec.name!r} is still loading; retry shortly.")
        return spec, engine

    def queue_depth(self) -> dict[str, int]:
        return {name: engine.stats().waiting for name, engine in self.engines.items()}
