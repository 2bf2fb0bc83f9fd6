"""The text completion use case (`/v1/completions`): prompts in, `text_completion` out.

Each prompt gets `n` choices (index = prompt * n + i); `echo` puts the prompt before the
answer; `logprobs` uses the legacy shape (tokens, token_logprobs, top_logprobs, offsets).
`echo` with `logprobs` scores the prompt's tokens too (the first has none), and
`max_tokens: 0` with `echo` only scores it: the log-likelihood requests of evaluation
harnesses (lm-evaluation-harness's `local-completions`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from modelmint.core.errors import UnsupportedParameterError
from modelmint.core.types import Usage
from modelmint.runtime.engine import (
    Finished,
    GenerationRequest,
    PromptLogprobs,
    TextDelta,
    TokenLogprob,
)
from modelmint.services.choices import Choice, n_choices, sampling_params
from modelmint.services.context import RequestContext
from modelmint.services.generation import GenerationRun
from modelmint.services.ids import object_id
from modelmint.services.metering import Metering
from modelmint.services.models import Models
from modelmint.services.privacy import RequestPrivacy
from modelmint.services.schemas import CompletionRequest


def legacy_logprobs(entries: list[TokenLogprob], offset: int) -> dict[str, Any]:
    offsets, position = [], offset
    for entry in entries:
        offsets.append(position)
        position += len(entry.token)
    return {
        "tokens": [e.token for e in entries],
        "token_logprobs": [e.logprob for e in entries],
        "top_logprobs": [
            None if e.logprob is None else {t.token: t.logprob for t in e.top_logprobs}
            for e in entries
        ],
        "text_offset": offsets,
    }


class CompletionRun(GenerationRun):
    request: CompletionRequest

    @property
    def id(self) -> str:
        return object_id("cmpl", self.request_id)

    def _prompt_of(self, choice: Choice) -> str:
        return self.request.prompts()[choice.prompt_group]

    def _object(self, choices: list[dict], usage: Usage | None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "text_completion",
            "created": self.created,
            "model": self.spec.name,
            "system_fingerprint": None,
            "choices": choices,
            "usage": usage.to_dict() if usage else None,
        }

    @staticmethod
    def _choice(choice: Choice, text: str, logprobs, finish: str | None) -> dict:
        return {"index": choice.index, "text": text, "logprobs": logprobs, "finish_reason": finish}

    @property
    def _wants_logprobs(self) -> bool:
        return self.request.logprobs is not None

    @property
    def _scores_prompt(self) -> bool:
        return self.request.echo and self._wants_logprobs

    async def chunks(self) -> AsyncIterator[dict[str, Any]]:
        offsets = {c.index: 0 for c in self.choices}
        if self.request.echo and not self._scores_prompt:
            for choice in self.choices:
                echoed = self._choice(choice, self._prompt_of(choice), None, None)
                yield self._object([echoed], None)
        async for choice, event in self.events():
            if isinstance(event, PromptLogprobs):  # the echoed prompt, with its scores
                prompt = self._prompt_of(choice)
                offsets[choice.index] = len(prompt)
                logprobs = legacy_logprobs(event.logprobs, 0)
                yield self._object([self._choice(choice, prompt, logprobs, None)], None)
            elif isinstance(event, TextDelta):
                logprobs = None
                if self._wants_logprobs:
                    logprobs = legacy_logprobs(event.logprobs or [], offsets[choice.index])
                offsets[choice.index] += len(event.text)
                yield self._object([self._choice(choice, event.text, logprobs, None)], None)
            elif isinstance(event, Finished):
                yield self._object([self._choice(choice, "", None, event.reason)], None)
        if self.include_usage:
            yield self._object([], self.usage)

    async def response(self) -> dict[str, Any]:
        collected = await self.collect()
        out = []
        for c in self.choices:
            prefix = self._prompt_of(c) if self.request.echo else ""
            logprobs = None
            if self._scores_prompt:
                scored = collected.prompt_logprobs.get(c.index, [])
                logprobs = legacy_logprobs([*scored, *collected.logprobs[c.index]], 0)
            elif self._wants_logprobs:
                logprobs = legacy_logprobs(collected.logprobs[c.index], len(prefix))
            finish = c.finished.reason if c.finished else "stop"
            out.append(self._choice(c, prefix + collected.texts[c.index], logprobs, finish))
        return self._object(out, self.usage)


class PromptScoring(CompletionRun):
    """Prompts read and scored, nothing generated: `respond()` gives each prompt's token
    log-probabilities (`prompt_logprobs`, one list per request, in order), on the metered
    path like any completion."""

    async def response(self) -> dict[str, Any]:
        collected = await self.collect()
        return {"prompt_logprobs": [collected.prompt_logprobs[c.index] for c in self.choices]}


async def open_completion(
    models: Models, metering: Metering, context: RequestContext, request: CompletionRequest
) -> CompletionRun:
    """Admitted for the worst case; `stream()` or `respond()` runs it."""
    spec, engine = await models.usable(context.account, request.model)
    scores_prompt = request.echo and request.logprobs is not None
    if scores_prompt and not engine.scores_prompts:
        raise UnsupportedParameterError(
            f"{spec.name!r} cannot score a prompt's tokens (echo with logprobs): llama.cpp "
            "and transformers models can; drop echo or logprobs, or pick one of those.",
            param="echo",
        )
    privacy = RequestPrivacy(context.account.policy)
    prompts = privacy.redacted(
        request.prompts(), param="prompt", logprobs=request.logprobs is not None
    )
    params = sampling_params(
        spec,
        request,
        max_tokens=request.max_tokens,
        logprobs=request.logprobs is not None,
        top_logprobs=request.logprobs or 0,
        prompt_logprobs=scores_prompt,
    )
    requests = [
        choice
        for prompt in prompts
        for choice in n_choices(
            GenerationRequest(params=params, prompt=prompt, request_id=context.request_id),
            request.n,
        )
    ]
    return await CompletionRun.open(
        metering, engine, spec, context.using(spec.name), request, requests, privacy, request.n
    )
