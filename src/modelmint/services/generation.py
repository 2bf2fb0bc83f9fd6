"""One generation request's run on the metered path, shared by chat and text completions.

`GenerationRun.open` takes the engine requests built from privacy's redacted copy,
measures each choice once and is admitted for the worst case. `stream()`
and `respond()` start the choices inside `Metering.metered`, so the run is settled exactly
once however it ends; its usage is read once, from the engines' meters, and the same
value goes into the response and the ledger.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Self

from modelmint.core.types import Usage
from modelmint.runtime.engine import (
    Engine,
    GenerationRequest,
    Measured,
    Meter,
    PromptLogprobs,
    TextDelta,
    TokenLogprob,
)
from modelmint.runtime.registry import ModelSpec
from modelmint.services.choices import Choice, merge, open_choices
from modelmint.services.context import Estimate, RequestContext, Ticket, Used
from modelmint.services.metering import Metering
from modelmint.services.privacy import RequestPrivacy
from modelmint.services.stored_bodies import keep_bodies


@dataclass
class Timing:
    """What the metrics need to know about one request."""

    started: float = field(default_factory=time.perf_counter)
    first_token: float | None = None
    finished: float | None = None

    def mark_token(self) -> None:
        if self.first_token is None:
            self.first_token = time.perf_counter()

    @property
    def time_to_first_token(self) -> float | None:
        return None if self.first_token is None else self.first_token - self.started

    def time_per_output_token(self, completion_tokens: int) -> float | None:
        if self.first_token is None or self.finished is None or completion_tokens < 2:
            return None
        return (self.finished - self.first_token) / (completion_tokens - 1)


@dataclass
class Collected:
    texts: dict[int, str]
    logprobs: dict[int, list[TokenLogprob]]
    prompt_logprobs: dict[int, list[TokenLogprob]]  # of the choices whose prompt was scored


def _carries_text(chunk: dict[str, Any]) -> bool:
    """Whether a chat or text completion chunk holds generated text."""
    return any(c.get("text") or c.get("delta", {}).get("content") for c in chunk["choices"])


class GenerationRun:
    """What chat and text completion runs share: admission, the choices, their timing,
    usage and settling. Subclasses shape the events into their objects."""

    def __init__(
        self,
        metering: Metering,
        engine: Engine,
        spec: ModelSpec,
        request: Any,
        ticket: Ticket,
        work: list[Measured],
        privacy: RequestPrivacy,
        per_prompt: int,
        timing: Timing,
    ) -> None:
        self.metering = metering
        self.engine = engine
        self.spec = spec
        self.request = request
        self.ticket = ticket
        self.privacy = privacy
        self.timing = timing
        self.created = int(time.time())
        self._work = work
        self._per_prompt = per_prompt
        self._meters = [Meter() for _ in work]
        self.choices: list[Choice] = []
        self.used: Used | None = None  # read once, when every choice has finished
        # what the engine wrote, per choice (with placeholders, if the model saw them)
        self._engine_texts: dict[int, list[str]] = {}

    @classmethod
    async def open(
        cls,
        metering: Metering,
        engine: Engine,
        spec: ModelSpec,
        context: RequestContext,
        request: Any,
        requests: list[GenerationRequest],
        privacy: RequestPrivacy,
        per_prompt: int = 1,
    ) -> Self:
        """Measure each choice once and admit the worst case: each distinct prompt once,
        every choice's most new tokens."""
        timing = Timing()
        work = [engine.measure(r) for r in requests]
        estimate = Estimate(
            sum(w.prompt_tokens for w in work[::per_prompt]), sum(w.max_new_tokens for w in work)
        )
        ticket = await metering.admit(context, estimate)
        return cls(metering, engine, spec, request, ticket, work, privacy, per_prompt, timing)

    @property
    def request_id(self) -> str:
        return self.ticket.request_id

    @property
    def usage(self) -> Usage:
        return self._usage_so_far().usage

    @property
    def include_usage(self) -> bool:
        options = self.request.stream_options
        return bool(options and options.include_usage)

    def _read_meters(self) -> Used:
        """What the engine produced so far: each prompt group's prompt once, every
        choice's completion (also for a run cut off midway)."""
        meters = self._meters
        groups: dict[int, Meter] = {}  # each prompt's meter that has counted it
        for i, meter in enumerate(meters):
            group = groups.setdefault(i // self._per_prompt, meter)
            if meter.prompt_tokens > group.prompt_tokens:
                groups[i // self._per_prompt] = meter
        prompts = groups.values()
        usage = Usage(
            sum(m.prompt_tokens for m in prompts),
            sum(m.completion_tokens for m in meters),
            sum(m.cached_tokens for m in prompts),
        )
        compute = sum(m.compute_seconds for m in meters)
        return Used(usage, compute, self.timing.time_to_first_token)

    def _usage_so_far(self) -> Used:
        return self.used or self._read_meters()

    async def _open_choices(self) -> None:
        self.choices = await open_choices(self.engine, self._work, self._meters, self._per_prompt)

    async def events(self) -> AsyncIterator[tuple[Choice, Any]]:
        """Every choice's events in arrival order, timing the first token and the end;
        placeholders put back when the org's policy has the model see them. Once all have
        finished, `used` is read."""
        restorers = {c.index: self.privacy.restorer() for c in self.choices}
        async for choice, event in merge(self.choices):
            restorer = restorers[choice.index]
            if isinstance(event, TextDelta):
                self.timing.mark_token()
                self._engine_texts.setdefault(choice.index, []).append(event.text)
                if restorer is not None:
                    event = TextDelta(restorer.feed(event.text), event.logprobs)
            elif restorer is not None and (tail := restorer.flush()):
                yield choice, TextDelta(tail)
            yield choice, event
        self.timing.finished = time.perf_counter()
        self.used = self._read_meters()

    def chunks(self) -> AsyncIterator[dict[str, Any]]:
        raise NotImplementedError

    async def response(self) -> dict[str, Any]:
        raise NotImplementedError

    async def stream(self) -> AsyncIterator[dict[str, Any]]:
        """`chunks()` on the metered path: settled once however the stream ends, its row
        committed before the last chunk goes out; a stream the client cuts off is billed
        for what the engine produced.

        Chunks with text go out at once; chunks without (role, finish, usage) wait for the
        next text, so the last one, which never carries text, follows the commit."""
        held: list[dict[str, Any]] = []
        async with self.metering.metered(self.ticket, self._usage_so_far):
            await self._open_choices()
            async for chunk in self.chunks():
                if not _carries_text(chunk):
                    held.append(chunk)
                    continue
                for waiting in held:
                    yield waiting
                held.clear()
                yield chunk
        self._keep_bodies()
        for waiting in held:
            yield waiting

    async def respond(self) -> dict[str, Any]:
        """`response()` on the metered path, returned once its ledger row is committed."""
        async with self.metering.metered(self.ticket, self._usage_so_far):
            await self._open_choices()
            body = await self.response()
        self._keep_bodies()
        return body

    def _keep_bodies(self) -> None:
        texts = {str(i): "".join(parts) for i, parts in sorted(self._engine_texts.items())}
        keep_bodies(self.metering.infra, self.ticket, self.privacy, self._request_body, texts)

    def _request_body(self) -> Any:
        return self.request.model_dump(mode="json", exclude_none=True)

    async def collect(self) -> Collected:
        """Run every choice to the end: its whole text and log-probabilities."""
        texts: dict[int, list[str]] = {c.index: [] for c in self.choices}
        logprobs: dict[int, list[TokenLogprob]] = {c.index: [] for c in self.choices}
        prompt_logprobs: dict[int, list[TokenLogprob]] = {}
        async for choice, event in self.events():
            if isinstance(event, TextDelta):
                texts[choice.index].append(event.text)
                logprobs[choice.index].extend(event.logprobs or [])
            elif isinstance(event, PromptLogprobs):
                prompt_logprobs[choice.index] = event.logprobs
        return Collected({i: "".join(t) for i, t in texts.items()}, logprobs, prompt_logprobs)
