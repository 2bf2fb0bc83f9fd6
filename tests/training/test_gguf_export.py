"""A checkpoint written back as GGUF serves like the model it came from: the shipped
GGUF, exported to Hugging Face weights and written back with its own metadata, gives the
same text the same likelihood on llama.cpp (and a wrong export would not)."""

from __future__ import annotations

import numpy as np
import pytest

from modelmint.runtime.hf.export import export_gguf
from modelmint.runtime.registry import Registry
from modelmint.training import gguf_export
from modelmint.training.gguf_export import write_gguf

pytestmark = pytest.mark.real_model

TEXT = (
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    "The capital of France is Paris. It is known for the Eiffel Tower, the Louvre museum "
    "and its cafes along the river Seine.<|im_end|>\n"
)


def mean_log_likelihood(path) -> float:
    """Nats per token of TEXT under the model at `path` (teacher-forced)."""
    from llama_cpp import Llama

    llm = Llama(str(path), n_ctx=512, logits_all=True, verbose=False)
    try:
        tokens = llm.tokenize(TEXT.encode(), add_bos=False, special=True)
        llm.eval(tokens)
        logits = np.array(llm.scores[: len(tokens)], dtype=np.float64)
    finally:
        llm.close()
    top = logits.max(1, keepdims=True)
    logprobs = logits - top - np.log(np.exp(logits - top).sum(1, keepdims=True))
    return float(logprobs[np.arange(len(tokens) - 1), tokens[1:]].mean())


@pytest.fixture(scope="module")
def base():
    return Registry.from_file().resolve("default").weights_path()


@pytest.fixture(scope="module")
def weights(base, tmp_path_factory):
    from safetensors.torch import load_file

    folder = export_gguf(base, tmp_path_factory.mktemp("hf") / "smollm2")
    return load_file(folder / "model.safetensors")


@pytest.fixture(scope="module")
def base_likelihood(base) -> float:
    return mean_log_likelihood(base)


@pytest.mark.parametrize(("quant", "within"), [("F16", 0.05), ("Q4_1", 0.01)])
def test_written_back_it_is_the_same_model(base, weights, base_likelihood, tmp_path, quant,
                                           within):  # fmt: skip
    written = write_gguf(base, weights, tmp_path / f"smollm2-{quant}.gguf", quant)
    assert written.exists() and not (tmp_path / f"smollm2-{quant}.f16.gguf").exists()
    assert mean_log_likelihood(written) == pytest.approx(base_likelihood, abs=within)


def test_without_the_rotary_permutation_the_model_breaks(
    base, weights, base_likelihood, tmp_path, monkeypatch
):
    """The check above can fail: q and k in Hugging Face's order ruin the attention."""
    monkeypatch.setattr(gguf_export, "_permute", lambda array, heads: array)
    written = write_gguf(base, weights, tmp_path / "broken.gguf", "F16")
    assert mean_log_likelihood(written) < base_likelihood - 0.2  # measured: 0.37 lower


def test_an_unknown_quantization_is_refused(tmp_path, weights):
    with pytest.raises(ValueError, match="quant must be one of"):
        write_gguf(tmp_path / "x.gguf", weights, tmp_path / "y.gguf", "Q3_XS")


def test_in_the_base_types_unchanged_weights_are_the_base_byte_for_byte(base, weights, tmp_path):
    import gguf

    written = write_gguf(base, weights, tmp_path / "same.gguf", "base")
    ours, theirs = gguf.GGUFReader(written), gguf.GGUFReader(base)
    assert [t.name for t in ours.tensors] == [t.name for t in theirs.tensors]
    for mine, original in zip(ours.tensors, theirs.tensors, strict=True):
        assert mine.tensor_type == original.tensor_type
        assert np.array_equal(mine.data, original.data), mine.name
