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
    def __init__(self, failures: int = 0) -> None:
        super().__init__()
        self.starts = 0
        self.failures = failures

    async def start(self) -> None:
        self.starts += 1
        await asyncio.sleep(0.01)  # others ask while it loads
        if self.starts <= self.failures:
            raise MemoryError("no room")
        await super().start()


def pool(failures: int = 0) -> ModelPool:
    registry = Registry([
        ModelSpec(name="always", engine="fake"),
        ModelSpec(name="big", aliases=["judge"], engine="fake", load_on_first_use=True),
    ])  # fmt: skip
    return ModelPool(registry, {"always": CountingEngine(), "big": CountingEngine(failures)})


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


def test_a_failed_load_is_a_503_naming_it_and_the_next_request_tries_again():
    async def scenario():
        models = pool(failures=1)
        await models.start()
        with pytest.raises(ModelNotReadyError, match="'big' failed to load") as caught:
            await models.acquire("big")
        assert caught.value.status == 503
        spec, engine = await models.acquire("big")
        assert spec.name == "big" and engine.ready and models.engines["big"].starts == 2
        await models.close()

    asyncio.run(scenario())


def test_a_request_that_stops_waiting_does_not_stop_the_load():
    async def scenario():
        models = pool()
        await models.start()
        waiting = asyncio.create_task(models.acquire("big"))
        await asyncio.sleep(0.001)
        waiting.cancel()  # its client left
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await models.acquire("big")
        assert models.engines["big"].starts == 1
        await models.close()

    asyncio.run(scenario())
