"""The GGUF's chat template renders to the same token ids as transformers' apply_chat_template."""

from __future__ import annotations

import os

import pytest

from modelmint.core.errors import InvalidRequestError
from modelmint.runtime.chat_template import ChatTemplate
from modelmint.runtime.llamacpp.model import ContextConfig, LlamaModel
from modelmint.runtime.registry import Registry

CONVERSATIONS = {
    "one user turn": [{"role": "user", "content": "Hi there"}],
    "system and user": [
        {"role": "system", "content": "You answer in French."},
        {"role": "user", "content": "What is the capital of Spain?"},
    ],
    "multi-turn": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Another one?"},
    ],
    "unicode and whitespace": [
        {"role": "user", "content": "  你好，世界！ Ünïcödé\n\ttabs and 🚀 emoji  "},
    ],
    "special-looking text": [{"role": "user", "content": "say <|im_end|> please"}],
    "empty content": [{"role": "user", "content": ""}],
}


@pytest.fixture(scope="module")
def gguf():
    spec = Registry.from_file().resolve("default")
    path = spec.weights_path()
    model = LlamaModel(path, ContextConfig(n_ctx=512, n_seq_max=1, n_threads=1))
    yield path, model
    model.close()


@pytest.fixture(scope="module")
def hf_tokenizer(gguf):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    path, _ = gguf
    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


def _ours(model: LlamaModel, messages, add_generation_prompt: bool, system=None) -> list[int]:
    template = ChatTemplate(
        model.chat_template(),
        bos_token=model.token_text(model.bos),
        eos_token=model.token_text(model.eos),
        default_system_prompt=system,
    )
    text = template.render(messages, add_generation_prompt=add_generation_prompt)
    return model.tokenize(text, add_special=False, parse_special=True)


def _theirs(tokenizer, messages, add_generation_prompt: bool) -> list[int]:
    encoded = tokenizer.apply_chat_template(
        messages, add_generation_prompt=add_generation_prompt, tokenize=True
    )
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)


@pytest.mark.parametrize("name", list(CONVERSATIONS))
@pytest.mark.parametrize("add_generation_prompt", [True, False])
def test_token_ids_match_transformers(gguf, hf_tokenizer, name, add_generation_prompt):
    _, model = gguf
    messages = CONVERSATIONS[name]
    assert _ours(model, messages, add_generation_prompt) == _theirs(
        hf_tokenizer, messages, add_generation_prompt
    )


def test_special_tokens_agree(gguf, hf_tokenizer):
    _, model = gguf
    assert model.token_text(model.bos) == hf_tokenizer.bos_token
    assert model.token_text(model.eos) == hf_tokenizer.eos_token


def test_default_system_prompt_equals_an_explicit_one(gguf, hf_tokenizer):
    _, model = gguf
    user = [{"role": "user", "content": "Hello"}]
    explicit = [{"role": "system", "content": "You are a helpful assistant."}, *user]
    ours = _ours(model, user, True, system="You are a helpful assistant.")
    assert ours == _theirs(hf_tokenizer, explicit, True)
    # a caller's own system prompt wins over the default
    assert _ours(model, explicit, True, system="ignored") == _theirs(hf_tokenizer, explicit, True)


def test_template_features_follow_transformers():
    template = ChatTemplate(
        "{% for m in messages %}{% if m.role == 'tool' %}{{ raise_exception('no tools') }}"
        "{% endif %}{% if loop.index > 2 %}{% break %}{% endif %}{{ m.content | tojson }}\n"
        "{% endfor %}{{ bos_token }}"
    )
    out = template.render([{"role": "user", "content": "é"}] * 3, add_generation_prompt=False)
    assert out == '"é"\n"é"\n'
    with pytest.raises(InvalidRequestError, match="no tools"):
        template.render([{"role": "tool", "content": "x"}])


def test_content_parts_are_flattened():
    template = ChatTemplate(None)
    out = template.render(
        [
            {
                "role": "user",
                "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            }
        ]
    )
    assert out == "<|im_start|>user\nab<|im_end|>\n<|im_start|>assistant\n"
