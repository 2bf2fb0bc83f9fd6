"""The choices of a generation request: built (`n` per prompt, one place), started
(`open_choices`) and read in arrival order (`merge`).

`open_choices` starts the choices and waits for their first events, so that errors a caller
can fix (context too long, server busy, bad grammar) surface before any byte is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import replace
from typing import Any

from modelmint.runtime.engine import (
    Engine,
    Finished,
    GenerationEvent,
    GenerationRequest,
    Measured,
    Meter,
    SamplingParams,
)
from modelmint.runtime.registry import ModelSpec

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


def n_choices(request: GenerationRequest, n: int) -> list[GenerationRequest]:
    """`n` choices of one prompt. With a seed, choice i samples with seed + i: the
    choices differ, and each is reproducible."""
    seed = request.params.seed
    if seed is None:
        return [request] * n
    return [replace(request, params=replace(request.params, seed=seed + i)) for i in range(n)]


class Choice:
    """One generation, usually with its first event already read (`first`)."""

    def __init__(
        self,
        index: int,
        stream: AsyncIterator[GenerationEvent],
        first: GenerationEvent | None,
        prompt_group: int,
        meter: Meter,
    ) -> None:
        self.index = index
        self.prompt_group = prompt_group
        self.meter = meter
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
    engine: Engine, work: list[Measured], meters: list[Meter], per_prompt: int = 1
) -> list[Choice]:
    """Start the generations; generation i belongs to prompt group i // per_prompt and
    keeps `meters[i]` current.

    As many as the engine runs at once reserve their slots together and are started
    before anything is sent, so their errors get a proper status. Choices past that start
    as slots free up (an error of theirs then ends the stream), no more of them waiting in
    the engine's queue at a time than the request runs: a request of many prompts runs in
    turns instead of filling the queue and failing with a 429 halfway.
    """
    now = min(len(work), engine.gate.slots)
    reservation = await engine.gate.reserve(now) if now > 1 else None
    turns = asyncio.Semaphore(now)
    streams = [
        engine.generate(item, meter, reservation)
        if i < now
        else _in_turn(turns, engine, item, meter)
        for i, (item, meter) in enumerate(zip(work, meters, strict=True))
    ]
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
        Choice(i, stream, first, i // per_prompt, meter)  # type: ignore[arg-type]
        for i, (stream, first, meter) in enumerate(zip(streams, firsts, meters, strict=True))
    ]


async def _in_turn(
    turns: asyncio.Semaphore, engine: Engine, item: Measured, meter: Meter
) -> AsyncIterator[GenerationEvent]:
    """A later choice's events, once one of its request's turns is free."""
    async with turns, aclosing(engine.generate(item, meter)) as events:
        async for event in events:
            yield event


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
