"""Fire-and-forget coroutines that are neither lost nor silent: each is kept referenced
until it ends (the event loop holds only weak references to tasks), and a failure is
logged as a warning with what the work was, instead of an unretrieved-exception error."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

logger = logging.getLogger(__name__)


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()

    def spawn(
        self, work: Coroutine[Any, Any, Any], what: str, awaited: bool = False
    ) -> asyncio.Task:
        """Run `work`; `awaited`: a caller awaits the task and reports its failure."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._ended(done, what, awaited))
        return task

    def _ended(self, task: asyncio.Task, what: str, awaited: bool) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        failure = task.exception()  # retrieved either way: no "never retrieved" noise
        if failure is not None and not awaited:
            logger.warning("%s failed: %r", what, failure)

    async def drain(self, timeout: float = 20.0) -> bool:
        """Wait for the work under way, and what it starts, up to `timeout` seconds (at
        shutdown); False if some is still running then."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._tasks:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=left)
        return True
