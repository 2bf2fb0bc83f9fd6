"""Running one or more generations for a request: parameters, first events, merging.

`open_choices` starts the choices and waits for their first events, so that errors a caller
can fix (context too long, server busy, bad grammar) surface before any byte is sent.
`merge` interleaves the choices' events as they arrive.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from modelmint.core.types import Usage
from modelmint.runtime.engine import (
    Engine,
    Finished,
    GenerationEvent,
    GenerationRequest,
    Meter,
    SamplingParams,
    TextDelta,
    TokenLogprob,
)
from modelmint.runtime.registry import ModelSpec
from modelmint.services.accounting import Accounting, Size, Ticket, Used
from modelmint.services.privacy import RequestPrivacy
from modelmint.tenancy.directory import Account

SAMPLING_KEYS = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "repeat_penalty",
    "presence_penalty",
    "frequency_penalty",
)


def sampling_params(spec: ModelSpec, request: Any, **extra: Any) -> SamplingParams:
    """Model defaults from the registry, overridden by what the request sets."""
    values: dict[str, Any] = {k: v for k, v in spec.defaults.items() if k in SAMPLING_KEYS}
    for key in SAMPLING_KEYS:
        value = getattr(request, key, None)
        if value is not None:
            values[key] = value
    return SamplingParams(stop=request.stop_list(), seed=request.seed, **values, **extra)


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


class Choice:
    """One generation, usually with its first event already read (`first`)."""

    def __init__(
        self,
        index: int,
        stream: AsyncIterator[GenerationEvent],
        first: GenerationEvent | None,
        prompt_group: int = 0,
        meter: Meter | None = None,
    ) -> None:
        self.index = index
        self.prompt_group = prompt_group
        self.meter = meter or Meter()
        self._stream = stream
        self._first: GenerationEvent | None = first
        self.finished: Finished | None = None

    async def events(self) -> AsyncIterator[GenerationEvent]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
            if isinstance(first, Finished):
                self.finished = first
                return
        async for event in self._stream:
            if isinstance(event, Finished):
                self.finished = event
            yield event

    async def close(self) -> None:
        await self._stream.aclose()  # type: ignore[attr-defined]


async def open_choices(
    engine: Engine, requests: list[GenerationRequest], per_prompt: int = 1
) -> list[Choice]:
    """Start the requests; request i belongs to prompt group i // per_prompt.

    As many choices as the engine runs at once reserve their slots together and are
    started before anything is sent, so their errors get a proper status. Choices past
    that start as slots free up (an error of theirs then ends the stream).
    """
    now = min(len(requests), engine.gate.slots)
    reservation = await engine.gate.reserve(now) if now > 1 else None
    for request in requests[:now]:
        request.reservation = reservation
    streams = [engine.generate(request) for request in requests]
    try:
        firsts = await asyncio.gather(*(anext(s) for s in streams[:now]), return_exceptions=True)
        errors = [f for f in firsts if isinstance(f, BaseException)]
        if errors:
            raise errors[0]
    except BaseException:
        await asyncio.gather(*(s.aclose() for s in streams), return_exceptions=True)  # type: ignore[attr-defined]
        raise
    finally:
        if reservation is not None:
            reservation.release_unused()
    firsts += [None] * (len(streams) - now)
    return [
        Choice(i, stream, first, i // per_prompt, request.meter)  # type: ignore[arg-type]
        for i, (stream, first, request) in enumerate(zip(streams, firsts, requests, strict=True))
    ]


async def admit_and_open(
    accounting: Accounting,
    account: Account,
    engine: Engine,
    requests: list[GenerationRequest],
    where: tuple[str, str, str],
    per_prompt: int = 1,
) -> tuple[Ticket, list[Choice]]:
    """Limits and budget first (for the worst case), then the generations.
    `where` is (model, endpoint, request id)."""
    privacy = RequestPrivacy(account.policy)
    privacy.prepare(requests, "messages" if requests[0].messages is not None else "prompt")
    sizes = [Size(*engine.measure(request)) for request in requests]
    ticket = await accounting.admit(account, *where, sizes)
    ticket.privacy = privacy
    try:
        choices = await open_choices(engine, requests, per_prompt)
    except BaseException:
        ticket.settle_later(Used(Usage()), "error")
        raise
    return ticket, choices


async def merge(choices: list[Choice]) -> AsyncIterator[tuple[Choice, GenerationEvent]]:
    """Yield (choice, event) in arrival order; closing the iterator cancels the rest."""
    if len(choices) == 1:
        try:
            async for event in choices[0].events():
                yield choices[0], event
        finally:
            await choices[0].close()
        return
    queue: asyncio.Queue[tuple[Choice, GenerationEvent] | BaseException | None] = asyncio.Queue()

    async def pump(choice: Choice) -> None:
        try:
            async for event in choice.events():
                await queue.put((choice, event))
        except BaseException as exc:  # handed to the consumer below
            await queue.put(exc)
            return
        await queue.put(None)

    tasks = [asyncio.create_task(pump(choice)) for choice in choices]
    try:
        remaining = len(tasks)
        while remaining:
            item = await queue.get()
            if item is None:
                remaining -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in choices), return_exceptions=True)


def _carries_text(chunk: dict[str, Any]) -> bool:
    """Whether a chat or text completion chunk holds generated text."""
    return any(c.get("text") or c.get("delta", {}).get("content") for c in chunk["choices"])


def total_usage(choices: list[Choice]) -> Usage:
    """Like OpenAI: each distinct prompt is counted once, completion tokens are summed."""
    prompts: dict[int, Usage] = {}
    completion_tokens = 0
    for choice in choices:
        if choice.finished is not None:
            prompts[choice.prompt_group] = choice.finished.usage
            completion_tokens += choice.finished.usage.completion_tokens
    prompt_tokens = sum(usage.prompt_tokens for usage in prompts.values())
    cached = sum(usage.cached_tokens for usage in prompts.values())
    return Usage(prompt_tokens, completion_tokens, cached)


@dataclass
class Collected:
    texts: dict[int, str]
    logprobs: dict[int, list[TokenLogprob]]


@dataclass
class GenerationRun:
    """What chat and text completion runs share: the choices, their timing and usage."""

    spec: ModelSpec
    request: Any
    request_id: str
    choices: list[Choice]
    timing: Timing
    ticket: Ticket | None = None
    created: int = field(default_factory=lambda: int(time.time()))
    # what the engine wrote, per choice (with placeholders, if the model saw them)
    engine_texts: dict[int, list[str]] = field(default_factory=dict)

    @property
    def usage(self) -> Usage:
        return total_usage(self.choices)

    @property
    def include_usage(self) -> bool:
        options = self.request.stream_options
        return bool(options and options.include_usage)

    async def events(self) -> AsyncIterator[tuple[Choice, GenerationEvent]]:
        """Every choice's events in arrival order, timing the first token and the end;
        placeholders put back when the org's policy has the model see them."""
        privacy = self.ticket.privacy if self.ticket else None
        restorers = {c.index: privacy.restorer() for c in self.choices} if privacy else {}
        async for choice, event in merge(self.choices):
            restorer = restorers.get(choice.index)
            if isinstance(event, TextDelta):
                self.timing.mark_token()
                self.engine_texts.setdefault(choice.index, []).append(event.text)
                if restorer is not None:
                    event = TextDelta(restorer.feed(event.text), event.logprobs)
            elif restorer is not None and (tail := restorer.flush()):
                yield choice, TextDelta(tail)
            yield choice, event
        self.timing.finished = time.perf_counter()

    def used(self) -> Used:
        """What the engine produced so far, from the meters (also for a cut-off run)."""
        prompts = {c.prompt_group: c.meter.prompt_tokens for c in self.choices}
        usage = Usage(sum(prompts.values()), sum(c.meter.completion_tokens for c in self.choices))
        compute = sum(c.meter.compute_seconds for c in self.choices)
        return Used(usage, compute, self.timing.time_to_first_token)

    def chunks(self) -> AsyncIterator[dict[str, Any]]:
        raise NotImplementedError

    async def response(self) -> dict[str, Any]:
        raise NotImplementedError

    async def billed_chunks(self) -> AsyncIterator[dict[str, Any]]:
        """`chunks()`, with the ledger committed before the last chunk goes out. A stream
        the client cuts off is billed for what the engine produced.

        Chunks with text go out at once; chunks without (role, finish, usage) wait for the
        next text, so the last one, which never carries text, follows the commit."""
        held: list[dict[str, Any]] = []
        try:
            async for chunk in self.chunks():
                if not _carries_text(chunk):
                    held.append(chunk)
                    continue
                for waiting in held:
                    yield waiting
                held.clear()
                yield chunk
            await self._settle()
        except (GeneratorExit, asyncio.CancelledError):
            self.abandon("cancelled")
            raise
        except BaseException:
            self.abandon("error")
            raise
        for waiting in held:
            yield waiting

    async def billed_response(self) -> dict[str, Any]:
        """`response()`, returned only once its ledger row is committed."""
        try:
            result = await self.response()
        except asyncio.CancelledError:
            self.abandon("cancelled")
            raise
        except BaseException:
            self.abandon("error")
            raise
        await self._settle()
        return result

    async def _settle(self) -> None:
        if self.ticket is None:
            return
        await self.ticket.settle(self.used())
        if self.ticket.keeps_bodies:
            texts = {str(i): "".join(parts) for i, parts in sorted(self.engine_texts.items())}
            self.ticket.keep_bodies(self.request.model_dump(mode="json", exclude_none=True), texts)

    def abandon(self, status: str) -> None:
        """Settle, without waiting, a run that will not finish (cancelled or failed)."""
        if self.ticket is not None:
            self.ticket.settle_later(self.used(), status)

    async def collect(self) -> Collected:
        """Run every choice to the end: its whole text and log-probabilities."""
        texts: dict[int, list[str]] = {c.index: [] for c in self.choices}
        logprobs: dict[int, list[TokenLogprob]] = {c.index: [] for c in self.choices}
        async for choice, event in self.events():
            if isinstance(event, TextDelta):
                texts[choice.index].append(event.text)
                logprobs[choice.index].extend(event.logprobs or [])
        return Collected({i: "".join(t) for i, t in texts.items()}, logprobs)
