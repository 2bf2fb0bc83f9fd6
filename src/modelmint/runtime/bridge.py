"""Events from an engine thread to asyncio consumers, with one wake-up per engine step.

Each generation reads its events from a `Channel` on its event loop. The engine thread puts
events into an `Outbox` while it works through a step and flushes it once at the end: every
event loop is woken once per step, however many sequences produced tokens, instead of once
per token (each wake-up is a syscall and a fight for the GIL with the engine thread).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from modelmint.core.errors import ModelmintError
from modelmint.runtime.engine import Finished


class Channel:
    """The events of one generation, read on the loop that created it."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    async def get(self) -> Any:
        return await self.queue.get()


class Outbox:
    """Collects (channel, event) pairs on the engine thread; `flush()` hands them over."""

    def __init__(self) -> None:
        self._items: list[tuple[Channel, Any]] = []

    def put(self, channel: Channel, event: Any) -> None:
        self._items.append((channel, event))

    def flush(self) -> None:
        if not self._items:
            return
        items, self._items = self._items, []
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Channel, Any]]] = {}
        for channel, event in items:
            by_loop.setdefault(channel.loop, []).append((channel, event))
        for loop, batch in by_loop.items():
            # a closed loop means its callers are gone; their sequences are cancelled
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_deliver, batch)


def _deliver(batch: list[tuple[Channel, Any]]) -> None:
    for channel, event in batch:
        channel.queue.put_nowait(event)


async def relay(channel: Channel, on_close: Callable[[], None]) -> AsyncIterator[Any]:
    """One generation's events up to its `Finished`; an engine error is raised. `on_close`
    runs however reading stops (engines use it to cancel the sequence); wrap the iterator
    in `contextlib.aclosing` so that it runs at once when the caller goes away."""
    try:
        while True:
            event = await channel.get()
            if isinstance(event, ModelmintError):
                raise event
            yield event
            if isinstance(event, Finished):
                return
    finally:
        on_close()
