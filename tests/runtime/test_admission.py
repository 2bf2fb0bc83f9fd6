"""AdmissionGate: bounded concurrency, a bounded FIFO queue, 429 past it, no leaked slots."""

from __future__ import annotations

import asyncio

import pytest

from modelmint.core.errors import ServerBusyError
from modelmint.runtime.admission import AdmissionGate


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_up_to_slots_run_at_once():
    gate = AdmissionGate(slots=3, max_queue=10)
    release = asyncio.Event()
    peak = 0

    async def work():
        nonlocal peak
        async with gate.slot():
            peak = max(peak, gate.running)
            await release.wait()

    tasks = [asyncio.create_task(work()) for _ in range(7)]
    await settle()
    assert (gate.running, gate.waiting) == (3, 4)
    release.set()
    await asyncio.gather(*tasks)
    assert peak == 3
    assert (gate.running, gate.waiting) == (0, 0)


async def test_waiters_are_served_first_come_first_served():
    gate = AdmissionGate(slots=1, max_queue=10)
    order: list[int] = []
    gates = [asyncio.Event() for _ in range(6)]

    async def work(i: int):
        async with gate.slot():
            order.append(i)
            await gates[i].wait()

    tasks = []
    for i in range(6):
        tasks.append(asyncio.create_task(work(i)))
        await settle()  # enqueue in a known order
    assert order == [0] and gate.waiting == 5
    for event in gates:
        event.set()
        await settle()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4, 5]


async def test_newcomer_does_not_jump_the_queue():
    gate = AdmissionGate(slots=1, max_queue=10)
    order: list[str] = []
    hold = asyncio.Event()

    async def work(name: str, event: asyncio.Event | None = None):
        async with gate.slot():
            order.append(name)
            if event:
                await event.wait()

    first = asyncio.create_task(work("first", hold))
    await settle()
    waiter = asyncio.create_task(work("waiter"))
    await settle()
    hold.set()  # the slot is handed to the waiter before a newcomer can take it
    newcomer = asyncio.create_task(work("newcomer"))
    await asyncio.gather(first, waiter, newcomer)
    assert order == ["first", "waiter", "newcomer"]
    assert gate.running == 0


async def test_full_queue_raises_server_busy_with_retry_after():
    gate = AdmissionGate(slots=1, max_queue=2)
    release = asyncio.Event()

    async def work():
        async with gate.slot():
            await release.wait()

    tasks = [asyncio.create_task(work()) for _ in range(3)]
    await settle()
    assert (gate.running, gate.waiting) == (1, 2)
    with pytest.raises(ServerBusyError) as caught:
        async with gate.slot():
            pass
    error = caught.value
    assert error.status == 429
    assert error.headers["Retry-After"] == str(error.retry_after)
    assert int(error.headers["Retry-After"]) >= 1
    assert "capacity" in error.message
    assert (gate.running, gate.waiting) == (1, 2)  # the refused caller left no trace
    release.set()
    await asyncio.gather(*tasks)
    assert (gate.running, gate.waiting) == (0, 0)


async def test_zero_queue_refuses_as_soon_as_slots_are_taken():
    gate = AdmissionGate(slots=1, max_queue=0)
    async with gate.slot():
        with pytest.raises(ServerBusyError):
            async with gate.slot():
                pass
    assert gate.running == 0


async def test_cancelled_waiter_does_not_leak_a_slot():
    gate = AdmissionGate(slots=1, max_queue=5)
    release = asyncio.Event()

    async def work():
        async with gate.slot():
            await release.wait()

    holder = asyncio.create_task(work())
    await settle()
    waiter = asyncio.create_task(work())
    await settle()
    assert gate.waiting == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert (gate.running, gate.waiting) == (1, 0)
    release.set()
    await holder
    assert (gate.running, gate.waiting) == (0, 0)
    async with asyncio.timeout(2), gate.slot():  # the gate still admits
        assert gate.running == 1


async def test_waiter_cancelled_after_being_handed_the_slot_passes_it_on():
    gate = AdmissionGate(slots=1, max_queue=5)
    entered: list[str] = []
    hold = asyncio.Event()

    async def work(name: str, event: asyncio.Event | None = None):
        async with gate.slot():
            entered.append(name)
            if event:
                await event.wait()

    holder = asyncio.create_task(work("holder", hold))
    await settle()
    doomed = asyncio.create_task(work("doomed"))
    last = asyncio.create_task(work("last"))
    await settle()
    hold.set()
    await asyncio.sleep(0)  # one step: the holder leaves and hands its slot to doomed...
    assert holder.done() and not doomed.done()  # ...which has not resumed yet
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    await asyncio.wait_for(last, timeout=2)  # a leaked slot would leave `last` waiting
    assert entered == ["holder", "last"]
    assert (gate.running, gate.waiting) == (0, 0)


async def test_error_inside_the_slot_releases_it():
    gate = AdmissionGate(slots=1, max_queue=0)
    with pytest.raises(RuntimeError):
        async with gate.slot():
            raise RuntimeError("boom")
    assert gate.running == 0


# --- group reservations ------------------------------------------------------------------------


async def run_group(gate: AdmissionGate, size: int, release: asyncio.Event, log: list[str], name):
    reservation = await gate.reserve(size)
    log.append(name)

    async def one():
        async with gate.slot(reservation):
            await release.wait()

    await asyncio.gather(*(one() for _ in range(size)))


async def test_a_group_takes_its_slots_together_and_two_groups_do_not_deadlock():
    gate = AdmissionGate(slots=4, max_queue=10)
    release = asyncio.Event()
    log: list[str] = []
    first = asyncio.create_task(run_group(gate, 3, release, log, "a"))
    second = asyncio.create_task(run_group(gate, 3, release, log, "b"))
    await settle()
    # b needs 3 and only 1 is free: it waits without holding any
    assert (log, gate.running, gate.waiting) == (["a"], 3, 1)
    release.set()
    await asyncio.wait_for(asyncio.gather(first, second), timeout=2)
    assert log == ["a", "b"]
    assert (gate.running, gate.waiting) == (0, 0)


async def test_a_waiting_group_keeps_its_place_ahead_of_later_singles():
    gate = AdmissionGate(slots=2, max_queue=10)
    holder = await gate.reserve(1)
    group = asyncio.create_task(gate.reserve(2))
    await settle()
    single = asyncio.create_task(gate.reserve(1))
    await settle()
    assert not group.done() and not single.done()  # a free slot, but the group is first
    holder.release_unused()
    reservation = await asyncio.wait_for(group, timeout=1)
    assert gate.running == 2 and not single.done()
    reservation.release_unused()
    (await asyncio.wait_for(single, timeout=1)).release_unused()
    assert gate.running == 0


async def test_cancelling_a_waiting_group_lets_smaller_waiters_in():
    gate = AdmissionGate(slots=2, max_queue=10)
    holder = await gate.reserve(1)
    group = asyncio.create_task(gate.reserve(2))
    await settle()
    single = asyncio.create_task(gate.reserve(1))
    await settle()
    group.cancel()
    reservation = await asyncio.wait_for(single, timeout=1)
    assert gate.running == 2
    reservation.release_unused()
    holder.release_unused()
    assert (gate.running, gate.waiting) == (0, 0)


async def test_unused_reserved_slots_go_back():
    gate = AdmissionGate(slots=4, max_queue=10)
    reservation = await gate.reserve(3)
    async with gate.slot(reservation):
        assert gate.running == 3
        reservation.release_unused()  # the other two never started
        assert gate.running == 1
    assert gate.running == 0


@pytest.mark.parametrize("count", [0, 5])
async def test_reserving_more_than_the_gate_has_is_a_programming_error(count):
    with pytest.raises(ValueError):
        await AdmissionGate(slots=4, max_queue=10).reserve(count)
