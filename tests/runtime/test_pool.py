"""The model pool: models loaded at start, and a model the registry loads on first use,
which costs nothing until a request needs it and then loads once however many ask."""

from __future__ import annotations

import asyncio

import pytest

from modelmint.core.errors import ModelNotReadyError
from modelmint.runtime.fake import FakeEngine
from modelmint.runtime.pool import ModelPool
from modelmint.runtime.registry import ModelSpec, Registry


class CountingEngine(FakeEngine):
    def __init__(self) -> None:
        super().__init__()
        self.starts = 0

    async def start(self) -> None:
        self.starts += 1
        await asyncio.sleep(0.01)  # others ask while it loads
        await super().start()


def pool() -> ModelPool:
    registry = Registry([
        ModelSpec(name="always", engine="fake"),
        ModelSpec(name="big", aliases=["judge"], engine="fake", load_on_first_use=True),
    ])  # fmt: skip
    return ModelPool(registry, {"always": CountingEngine(), "big": CountingEngine()})


def test_a_model_loaded_on_first_use_waits_for_a_request():
    async def scenario():
        models = pool()
        await models.start()
        assert models.ready  # what loads at start has loaded
        assert models.engines["always"].starts == 1 and models.engines["big"].starts == 0
        with pytest.raises(ModelNotReadyError):
            models.get("big")
        found = await asyncio.gather(*(models.acquire(n) for n in ("judge", "big", "judge")))
        assert {spec.name for spec, _ in found} == {"big"}
        assert models.engines["big"].starts == 1 and models.engines["big"].ready
        await models.acquire("always")
        assert models.engines["always"].starts == 1
        await models.close()

    asyncio.run(scenario())
