"""Serving an org's fine-tuned models: answered from memory once loaded, a deleted one
finishes the requests it is answering before its engine closes, and one deleted through
another replica stops answering here too."""

from __future__ import annotations

import pytest

from modelmint.core.errors import ModelNotFoundError
from modelmint.core.ids import utcnow
from modelmint.runtime.engine import Finished, GenerationRequest, Meter, SamplingParams
from modelmint.runtime.fake import FakeEngine
from modelmint.services import models as models_module
from modelmint.store.fine_tuning import FineTunedModel, add_model, delete_model

NAME = "ft:fake-chat:org:facts:0001"


class RecordingEngine(FakeEngine):
    """A slow fake engine that remembers whether it was closed under a request."""

    closed_while_busy: bool | None = None

    async def close(self) -> None:
        self.closed_while_busy = self.stats().running > 0
        await super().close()


@pytest.fixture
def engines(monkeypatch) -> list[RecordingEngine]:
    made: list[RecordingEngine] = []

    def build(_spec, _options) -> RecordingEngine:
        made.append(RecordingEngine(token_delay=0.02))
        return made[-1]

    monkeypatch.setattr(models_module, "build_engine", build)
    return made


async def registered(world, tmp_path):
    account = await world.account()
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    row = FineTunedModel(NAME, account.org.id, "ftjob-x", "fake-chat", str(gguf), 4, utcnow())
    await world.db.write(add_model, row)
    return account


def request() -> GenerationRequest:
    words = " ".join(f"w{i}" for i in range(30))
    return GenerationRequest(
        SamplingParams(max_tokens=30), messages=[{"role": "user", "content": words}]
    )


async def test_a_deleted_model_finishes_its_requests_then_closes(world, tmp_path, engines):
    account = await registered(world, tmp_path)
    models = world.models
    _, engine = await models.get(account, NAME)
    events = engine.generate(engine.measure(request()), Meter())
    await anext(events)
    assert (await models.delete(account, NAME))["deleted"] is True
    with pytest.raises(ModelNotFoundError):
        await models.get(account, NAME)
    rest = [event async for event in events]
    assert isinstance(rest[-1], Finished)
    await models.close()
    assert engines[0].closed_while_busy is False


async def test_a_model_deleted_elsewhere_stops_answering(world, tmp_path, engines, monkeypatch):
    account = await registered(world, tmp_path)
    models = world.models
    await models.get(account, NAME)
    await models.get(account, NAME)  # from memory: one engine
    assert len(engines) == 1
    await world.db.write(delete_model, account.org.id, NAME)  # another replica's delete
    monkeypatch.setattr(models_module, "RECONFIRM_SECONDS", 0.0)
    with pytest.raises(ModelNotFoundError):
        await models.get(account, NAME)
    await models.close()
    assert engines[0].closed_while_busy is False
