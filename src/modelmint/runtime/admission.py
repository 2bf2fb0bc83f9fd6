"""A bounded admission gate: at most `slots` generations run, at most `max_queue` wait.

Past that, callers get `ServerBusyError` (429 with Retry-After) instead of an unbounded
queue. Waiters are served first come, first served. A request with several choices
(`n`, or a list of prompts) reserves all its slots at once: taking them one by one would
let two such requests each hold some slots while waiting for the other's.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from modelmint.core.errors import ServerBusyError


class Reservation:
    """Slots taken together; each generation of the group takes one with `slot(reservation)`."""

    def __init__(self, gate: AdmissionGate, count: int) -> None:
        self._gate = gate
        self._unused = count

    def take(self) -> bool:
        if self._unused == 0:
            return False
        self._unused -= 1
        return True

    def release_unused(self) -> None:
        """Give back slots no generation took (one failed before it started)."""
        unused, self._unused = self._unused, 0
        if unused:
            self._gate._release(unused)


class AdmissionGate:
    def __init__(self, slots: int, max_queue: int) -> None:
        self.slots = slots
        self.max_queue = max_queue
        self.running = 0
        self._waiters: deque[tuple[asyncio.Future[None], int]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @asynccontextmanager
    async def slot(self, reservation: Reservation | None = None) -> AsyncIterator[None]:
        if reservation is None or not reservation.take():
            await self._acquire(1)
        try:
            yield
        finally:
            self._release(1)

    async def reserve(self, count: int) -> Reservation:
        """Wait for `count` slots together (callers check `count <= slots` first)."""
        if not 1 <= count <= self.slots:
            raise ValueError(f"cannot reserve {count} of {self.slots} slots")
        await self._acquire(count)
        return Reservation(self, count)

    async def _acquire(self, count: int) -> None:
        if not self._waiters and self.running + count <= self.slots:
            self.running += count
            return
        if len(self._waiters) >= self.max_queue:
            raise ServerBusyError(
                f"The server is at capacity ({self.running} running, {self.waiting} waiting). "
                "Retry after a moment.",
                retry_after=1,
            )
        entry = (asyncio.get_running_loop().create_future(), count)
        self._waiters.append(entry)
        try:
            await entry[0]  # _grant counted the slots before waking us
        except asyncio.CancelledError:
            if entry in self._waiters:
                self._waiters.remove(entry)
                self._grant()  # a smaller waiter behind us may fit now
            elif entry[0].done() and not entry[0].cancelled():
                self._release(count)
            raise

    def _release(self, count: int) -> None:
        self.running -= count
        self._grant()

    def _grant(self) -> None:
        while self._waiters:
            waiter, count = self._waiters[0]
            if waiter.done():
                self._waiters.popleft()
                continue
            if self.running + count > self.slots:
                return
            self._waiters.popleft()
            self.running += count
            waiter.set_result(None)
