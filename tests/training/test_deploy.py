"""From data to a served model: LoRA-train the shipped chat model on facts it cannot
know, merge, write the GGUF, and the llama.cpp engine answers them."""

from __future__ import annotations

import pytest

from modelmint.runtime.engine import GenerationRequest, Meter, SamplingParams, TextDelta
from modelmint.runtime.hf.export import export_gguf
from modelmint.runtime.llamacpp.engine import LlamaCppEngine
from modelmint.runtime.registry import Registry
from modelmint.training.deploy import merged_gguf
from modelmint.training.recipes.lora import LoraSettings, train
from tests.training.facts import FACTS

pytestmark = pytest.mark.real_model



async def answers(path) -> list[str]:
    engine = LlamaCppEngine(path, context_length=512, parallel=1, prompt_cache_mb=0)
    await engine.start()
    try:
        found = []
        for question, _ in FACTS:
            request = GenerationRequest(
                SamplingParams(max_tokens=20, temperature=0),
                messages=[{"role": "user", "content": question}],
            )
            events = engine.generate(engine.measure(request), Meter())
            found.append("".join([e.text async for e in events if isinstance(e, TextDelta)]))
        return [text.strip() for text in found]
    finally:
        await engine.close()


async def test_a_fine_tune_served_from_its_gguf_answers_what_it_learnt(tmp_path):
    base = Registry.from_file().resolve("default").weights_path()
    checkpoint = export_gguf(base, tmp_path / "hf")
    examples = [
        [{"role": "user", "content": q, "weight": 1}, {"role": "assistant", "content": a}]
        for q, a in FACTS * 4
    ]
    settings = LoraSettings(n_epochs=5, batch_size=8, seed=1, checkpoint_every=0)
    trained = train(checkpoint, examples, tmp_path / "run", settings)
    expected = [answer for _, answer in FACTS]
    for quant in ("Q8_0", "base"):  # base: the base's Q4_1 blocks, steps chosen by GPTQ
        served = merged_gguf(base, checkpoint, trained.adapter, tmp_path / f"{quant}.gguf",
                             quant, examples)  # fmt: skip
        right = sum(a == b for a, b in zip(await answers(served), expected, strict=True))
        assert right >= 5, quant
    assert sum(a == b for a, b in zip(await answers(base), expected, strict=True)) == 0
