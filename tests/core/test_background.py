"""Background work: kept until it ends, failures logged with what the work was."""

from __future__ import annotations

import asyncio
import contextlib
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


async def test_drain_waits_for_work_started_meanwhile_but_not_past_its_deadline(caplog):
    background, done = Background(), []

    async def then_more() -> None:
        await asyncio.sleep(0.01)
        background.spawn(more(), "more")

    async def more() -> None:
        await asyncio.sleep(0.01)
        done.append(True)

    background.spawn(then_more(), "first")
    assert await background.drain(timeout=2) is True
    assert done == [True]
    hung = background.spawn(asyncio.sleep(10), "hung")
    assert await background.drain(timeout=0.05) is False
    hung.cancel()


async def test_work_a_caller_awaits_is_not_logged_twice(caplog):
    background = Background()

    async def broken() -> None:
        raise ConnectionError("the database is away")

    task = background.spawn(broken(), "settling", awaited=True)
    with contextlib.suppress(ConnectionError):
        await task
    await asyncio.sleep(0)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
