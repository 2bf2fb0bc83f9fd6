"""The sampler (penalties in numpy, the rest in llama.cpp) picks exactly the tokens that
llama.cpp's own chain with its penalties sampler picks, on the real default model."""

from __future__ import annotations

import llama_cpp
import numpy as np
import pytest

from modelmint.runtime.engine import SamplingParams
from modelmint.runtime.llamacpp.model import ContextConfig, LlamaModel
from modelmint.runtime.llamacpp.sampling import PENALTY_LAST_N, SamplerChain
from modelmint.runtime.registry import Registry

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def model():
    model = LlamaModel(
        Registry.from_file().resolve("default").weights_path(), ContextConfig(512, 1, 512)
    )
    yield model
    model.close()


def reference_chain(model: LlamaModel, params: SamplingParams):
    chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    samplers = [
        llama_cpp.llama_sampler_init_penalties(
            model.n_vocab, PENALTY_LAST_N, params.repeat_penalty,
            params.frequency_penalty, params.presence_penalty,
        )
    ]  # fmt: skip
    if params.temperature <= 0:
        samplers.append(llama_cpp.llama_sampler_init_greedy())
    else:
        samplers += [
            llama_cpp.llama_sampler_init_top_p(params.top_p, 1),
            llama_cpp.llama_sampler_init_temp(params.temperature),
            llama_cpp.llama_sampler_init_dist(params.seed),
        ]
    for sampler in samplers:
        llama_cpp.llama_sampler_chain_add(chain, sampler)
    return chain


@pytest.mark.parametrize(
    "params",
    [
        SamplingParams(
            temperature=0, repeat_penalty=1.3, frequency_penalty=0.4, presence_penalty=0.3
        ),
        SamplingParams(
            temperature=0.9,
            top_p=0.95,
            seed=7,
            repeat_penalty=1.2,
            frequency_penalty=0.2,
            presence_penalty=0.5,
        ),
    ],  # fmt: skip
    ids=["greedy", "seeded"],
)
def test_same_tokens_as_llama_cpp_penalties(model, params):
    ours = SamplerChain(model.vocab, model.n_vocab, params, None)
    theirs = reference_chain(model, params)
    batch = llama_cpp.llama_batch_init(512, 0, 1)
    tokens = model.tokenize(
        "The cat sat on the mat. The cat", add_special=True, parse_special=False
    )
    model.forget(0)
    pos, picked, differ = 0, [], 0
    try:
        for _ in range(PENALTY_LAST_N + 16):  # past the window, so tokens leave it too
            for i, token in enumerate(tokens):
                batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, pos + i, 1
                batch.seq_id[i][0], batch.logits[i] = 0, i == len(tokens) - 1
            batch.n_tokens = len(tokens)
            assert llama_cpp.llama_decode(model.ctx, batch) == 0
            pos += len(tokens)
            index = len(tokens) - 1
            expected = llama_cpp.llama_sampler_sample(theirs, model.ctx, index)  # reads only
            got = ours.sample(model.ctx, index, model.logits(index))
            differ += got != expected
            picked.append(expected)
            tokens = [expected]
    finally:
        llama_cpp.llama_batch_free(batch)
        llama_cpp.llama_sampler_free(theirs)
        ours.free()
    assert differ == 0
    assert len(set(picked)) > 10  # the penalties had work to do


def test_temperature_draws_follow_the_softmax():
    logits = np.array([2.0, 1.0, 0.0, -np.inf, 0.5], dtype=np.float32)
    sampler = SamplerChain(None, len(logits), SamplingParams(temperature=0.5, seed=3), None)
    assert sampler.chain is None  # plain temperature: drawn in numpy
    draws = np.bincount([sampler.sample(None, 0, logits) for _ in range(20000)], minlength=5)
    expected = np.exp(logits / 0.5 - 4.0)
    expected /= expected.sum()
    assert draws[3] == 0
    assert np.allclose(draws / 20000, expected, atol=0.012)
    again = SamplerChain(None, len(logits), SamplingParams(temperature=0.5, seed=3), None)
    first = SamplerChain(None, len(logits), SamplingParams(temperature=0.5, seed=3), None)
    assert [again.sample(None, 0, logits) for _ in range(50)] == [
        first.sample(None, 0, logits) for _ in range(50)
    ]
