"""Render a model's chat template with the semantics of Hugging Face's `apply_chat_template`.

The template is the Jinja2 source stored in the GGUF (`tokenizer.chat_template`). Like
transformers we use a sandboxed environment with `trim_blocks` and `lstrip_blocks`, the
`loopcontrols` extension, a `tojson` filter that keeps non-ASCII text, `raise_exception`
and `strftime_now`. The rendered text already holds every special token the template wants
(BOS included, when the template writes it), so it is tokenized without adding specials.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from jinja2 import TemplateError
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

from modelmint.core.errors import InvalidRequestError

# Used only when a GGUF carries no template: ChatML, which most small chat models use.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _raise_exception(message: str) -> None:
    raise InvalidRequestError(f"The chat template rejected the messages: {message}")


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: Any = None,
    sort_keys: bool = False,
) -> str:
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _strftime_now(fmt: str) -> str:
    return datetime.now(UTC).strftime(fmt)


@lru_cache(maxsize=16)
def _compile(source: str):
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env.from_string(source)


def with_system_prompt(
    messages: list[dict[str, Any]], system_prompt: str | None
) -> list[dict[str, Any]]:
    """The conversation as the model sees it: `system_prompt` first when the messages
    bring no system message of their own (the server's default, which fine-tuning also
    trains with)."""
    if not system_prompt or (messages and messages[0]["role"] == "system"):
        return messages
    return [{"role": "system", "content": system_prompt}, *messages]


class ChatTemplate:
    def __init__(
        self,
        source: str | None,
        *,
        bos_token: str = "",
        eos_token: str = "",
        default_system_prompt: str | None = None,
    ) -> None:
        self.source = source or CHATML_TEMPLATE
        self.bos_token = bos_token
        self.eos_token = eos_token
        self.default_system_prompt = default_system_prompt
        self._template = _compile(self.source)

    def render(self, messages: list[dict[str, Any]], add_generation_prompt: bool = True) -> str:
        messages = with_system_prompt(
            [_normalise(message) for message in messages], self.default_system_prompt
        )
        try:
            return self._template.render(
                messages=messages,
                add_generation_prompt=add_generation_prompt,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
            )
        except InvalidRequestError:
            raise
        except (TemplateError, TypeError, ValueError) as exc:
            raise InvalidRequestError(
                f"The messages could not be rendered with the model's chat template: {exc}",
                param="messages",
            ) from exc


def _normalise(message: dict[str, Any]) -> dict[str, Any]:
    """Flatten OpenAI content parts (`[{"type": "text", "text": ...}]`) into a string."""
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content)
    out = dict(message)
    out["content"] = content if content is not None else ""
    return out
