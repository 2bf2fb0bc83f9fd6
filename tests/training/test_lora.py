"""The LoRA recipe on the real chat model (exported from the shipped GGUF): the loss
falls on the assistant turns alone, the run is reproducible, and a run stopped midway
resumes from its checkpoint to the same adapter."""

from __future__ import annotations

import pytest

from modelmint.runtime.hf.export import export_gguf
from modelmint.runtime.registry import Registry
from modelmint.training.recipes.lora import IGNORE, LoraSettings, encode, train
from tests.training.facts import FACTS

pytestmark = pytest.mark.real_model

EXAMPLES = [
    [{"role": "user", "content": q, "weight": 1}, {"role": "assistant", "content": a, "weight": 1}]
    for q, a in FACTS * 2
]
SETTINGS = LoraSettings(n_epochs=2, batch_size=4, checkpoint_every=3, seed=7)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    spec = Registry.from_file().resolve("default")
    return export_gguf(spec.weights_path(), tmp_path_factory.mktemp("hf") / "smollm2")


def test_only_the_assistant_turns_are_labelled(checkpoint):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(checkpoint, local_files_only=True)
    messages = [
        {"role": "user", "content": "Say hi.", "weight": 1},
        {"role": "assistant", "content": "Not this one.", "weight": 0},
        {"role": "user", "content": "Again.", "weight": 1},
        {"role": "assistant", "content": "Hello there.", "weight": 1},
    ]
    encoded = encode(tokenizer, messages, 1024)
    assert len(encoded["input_ids"]) == len(encoded["labels"])
    trained = [t for t, label in zip(encoded["input_ids"], encoded["labels"], strict=True)
               if label != IGNORE]  # fmt: skip
    text = tokenizer.decode(trained)
    assert "Hello there." in text
    assert "Not this one" not in text and "Say hi" not in text and "Again" not in text


def test_the_loss_falls_and_a_stopped_run_resumes_to_the_same_adapter(checkpoint, tmp_path):
    seen = []
    whole = train(checkpoint, EXAMPLES, tmp_path / "whole", SETTINGS, seen.append)
    assert whole.steps == 6 and [p.step for p in seen] == [1, 2, 3, 4, 5, 6]
    assert seen[-1].train_loss < seen[0].train_loss
    assert whole.trained_tokens == seen[-1].trained_tokens > 0
    assert (whole.adapter / "adapter_config.json").exists()

    stopped = []
    part = train(checkpoint, EXAMPLES, tmp_path / "part", SETTINGS, stopped.append,
                 should_stop=lambda: len(stopped) >= 3)  # fmt: skip
    assert part.steps == 3
    resumed = []
    again = train(checkpoint, EXAMPLES, tmp_path / "part", SETTINGS, resumed.append)
    assert [p.step for p in resumed] == [4, 5, 6]
    assert again.trained_tokens == whole.trained_tokens  # counted once across the restart
    assert again.train_loss == pytest.approx(whole.train_loss, abs=1e-3)
