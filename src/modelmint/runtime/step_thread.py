"""The thread that drives a batching engine: sequences come in from the event loop, the
thread works in steps, and each step's events go back in one hand-over (bridge.Outbox).

Subclasses say when there is work (`_busy`), take newcomers under the lock
(`_take_incoming`), do one step (`_step_once`) and list every sequence still owed an
answer (`_everyone`) so that each hears of a shutdown.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from modelmint.core.errors import EngineError
from modelmint.runtime.bridge import Outbox, relay


class StepThread:
    def __init__(self, name: str) -> None:
        self._incoming: deque[Any] = deque()
        self._outbox = Outbox()  # events of a step, handed over when the step ends
        self._wakeup = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    # called from other threads ----------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def submit(self, sequence: Any) -> None:
        with self._wakeup:
            self._incoming.append(sequence)
            self._wakeup.notify()

    async def stream(self, sequence: Any) -> AsyncIterator[Any]:
        """Submit `sequence` and yield its events up to its `Finished` (engine errors are
        raised). However the reader stops, the sequence is marked cancelled and the thread
        woken, so its slot is freed at the next step; wrap this in `contextlib.aclosing`."""

        def cancel() -> None:
            sequence.cancelled = True
            self.wake()

        self.submit(sequence)
        async with contextlib.aclosing(relay(sequence.channel, cancel)) as events:
            async for event in events:
                yield event

    def wake(self) -> None:
        with self._wakeup:
            self._wakeup.notify()

    def stop(self) -> None:
        with self._wakeup:
            self._stopping = True
            self._wakeup.notify()
        self._thread.join(timeout=30)

    @property
    def waiting(self) -> int:
        return len(self._incoming)

    # the thread -------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._wakeup:
                while not self._stopping and not self._incoming and not self._busy():
                    self._wakeup.wait()
                if self._stopping:
                    break
                self._take_incoming()
            self._step_once()
            self._outbox.flush()
        for sequence in self._everyone():
            self._emit(sequence, EngineError("The server is shutting down."))
        self._outbox.flush()

    def _emit(self, sequence: Any, event: object) -> None:
        self._outbox.put(sequence.channel, event)

    def _busy(self) -> bool:
        raise NotImplementedError

    def _take_incoming(self) -> None:
        raise NotImplementedError

    def _step_once(self) -> None:
        raise NotImplementedError

    def _everyone(self) -> list[Any]:
        raise NotImplementedError
