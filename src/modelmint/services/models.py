"""The models use case: what `/v1/models` lists."""

from __future__ import annotations

from typing import Any

from modelmint.runtime.pool import ModelPool
from modelmint.runtime.registry import ModelSpec

CREATED = 1_735_689_600  # registry entries have no creation time; a fixed one keeps output stable


def model_object(spec: ModelSpec, pool: ModelPool) -> dict[str, Any]:
    engine = pool.engines.get(spec.name)
    return {
        "id": spec.name,
        "object": "model",
        "created": CREATED,
        "owned_by": spec.owned_by,
        "aliases": spec.aliases,
        "engine": spec.engine,
        "context_length": spec.context_length,
        "description": spec.description,
        "ready": bool(engine and engine.ready),
    }


def list_models(pool: ModelPool) -> dict[str, Any]:
    return {"object": "list", "data": [model_object(s, pool) for s in pool.registry.specs.values()]}


def get_model(pool: ModelPool, name: str) -> dict[str, Any]:
    return model_object(pool.registry.resolve(name), pool)
