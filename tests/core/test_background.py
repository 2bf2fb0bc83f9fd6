"""Background work: kept until it ends, failures logged with what the work was."""

from __future__ import annotations

import asyncio
import gc
import logging

from modelmint.core.background import Background


async def test_work_runs_to_the_end_and_a_failure_says_what_failed(caplog):
    background, done = Background(), []

    async def work() -> None:
        await asyncio.sleep(0.01)
        done.append(True)

    async def broken() -> None:
        raise ConnectionError("Redis went away")

    background.spawn(work(), "some work")
    background.spawn(broken(), "giving 5 tokens back to tpm:org_a")
    gc.collect()  # only the Background holds the tasks
    await background.drain()
    await asyncio.sleep(0)  # the done callbacks run on the next turn of the loop
    assert done == [True]
    failures = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(failures) == 1
    assert "giving 5 tokens back to tpm:org_a failed" in failures[0].getMessage()
    assert "Redis went away" in failures[0].getMessage()
