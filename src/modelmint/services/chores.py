"""Periodic work, each chore owned by its room and run here in one supervised group.

A chore that fails is logged and tried again next round, so one broken chore never stops
the others; closing the group stops them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Chore:
    name: str
    every: float  # seconds between rounds
    run: Callable[[], Awaitable[object]]


class Chores:
    def __init__(self) -> None:
        self._chores: list[Chore] = []
        self._group: asyncio.Task | None = None

    def add(self, name: str, every: float, run: Callable[[], Awaitable[object]]) -> None:
        """Run `run` every `every` seconds once started (a zero interval: never)."""
        if every > 0:
            self._chores.append(Chore(name, every, run))

    @property
    def names(self) -> list[str]:
        return [chore.name for chore in self._chores]

    def start(self) -> None:
        self._group = asyncio.create_task(self._supervise(), name="chores")

    async def _supervise(self) -> None:
        async with asyncio.TaskGroup() as group:
            for chore in self._chores:
                group.create_task(self._forever(chore), name=chore.name)

    async def _forever(self, chore: Chore) -> None:
        while True:
            await asyncio.sleep(chore.every)
            try:
                await chore.run()
            except Exception:  # the next round tries again
                logger.warning("%s failed", chore.name, exc_info=True)

    async def close(self) -> None:
        if self._group is None:
            return
        self._group.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._group
        self._group = None
