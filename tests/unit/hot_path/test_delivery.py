"""The worker's inline delivery (`hot_path.delivery`): Faust's semantics, without its tasks."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import faust
import pytest
from faust.types import TP
from mode.utils.queues import FlowControlEvent, FlowControlQueue

from hot_path import delivery
from hot_path.delivery import DELIVERED, InlineDeliveryConsumer, first_step, use_inline_delivery

TP0, TP1 = TP("fleet.telemetry", 0), TP("fleet.telemetry", 1)


async def _ticked(awaitable: Any) -> tuple[Any, bool]:
    """Await ``awaitable``; also say whether the event loop ran anything meanwhile."""
    ticks: list[int] = []
    asyncio.get_running_loop().call_soon(ticks.append, 1)
    result = await awaitable
    return result, bool(ticks)


def test_a_delivery_that_need_not_wait_is_done_in_its_first_step() -> None:
    seen: list[str] = []

    async def deliver(message: str) -> None:
        seen.append(message)

    async def run() -> None:
        step = first_step(deliver("record"))
        assert step is DELIVERED
        assert seen == ["record"]  # delivered before anything was awaited
        _, ticked = await _ticked(step)
        assert not ticked

    asyncio.run(run())


def test_a_delivery_that_waits_goes_on_where_it_stopped() -> None:
    seen: list[str] = []

    async def deliver(room: asyncio.Future[int]) -> str:
        seen.append("before")
        seen.append(f"got {await room}")  # the first step stops here, on the future
        await asyncio.sleep(0)  # and a bare yield, in the task
        seen.append(f"in {asyncio.current_task() is not None and 'a task'}")
        return "delivered"

    async def run() -> None:
        room: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        rest = first_step(deliver(room))
        assert rest is not DELIVERED and seen == ["before"]
        task = asyncio.ensure_future(rest)
        await asyncio.sleep(0.01)
        assert not task.done() and seen == ["before"]
        room.set_result(7)
        assert await task == "delivered"
        assert seen == ["before", "got 7", "in a task"]

    asyncio.run(run())


def test_cancelling_the_rest_cancels_the_delivery_where_it_waits() -> None:
    seen: list[str] = []

    async def deliver(room: asyncio.Future[None], *, swallow: bool) -> str:
        try:
            await room
        except asyncio.CancelledError:
            seen.append("cancelled")
            if not swallow:
                raise
            return "gave up"
        finally:
            seen.append("cleaned up")
        return "delivered"

    async def run() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(first_step(deliver(loop.create_future(), swallow=False)))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert seen == ["cancelled", "cleaned up"]
        seen.clear()
        task = asyncio.ensure_future(first_step(deliver(loop.create_future(), swallow=True)))
        await asyncio.sleep(0)
        task.cancel()
        assert await task == "gave up"  # the exception went into the coroutine, as with await
        assert seen == ["cancelled", "cleaned up"]

    asyncio.run(run())


def test_an_error_in_the_first_step_is_raised_at_once() -> None:
    async def deliver() -> None:
        raise ValueError("bad channel")

    with pytest.raises(ValueError, match="bad channel"):
        first_step(deliver())


def _consumer() -> InlineDeliveryConsumer:
    """A worker's consumer, made in the running loop (Faust's services keep the loop they see)."""
    app = faust.App("test-inline-delivery", broker="kafka://127.0.0.1:1", store="memory://",
                    web_enabled=False)  # fmt: skip
    use_inline_delivery(app, held_topics=[TP0.topic])
    made = app.consumer
    assert isinstance(made, InlineDeliveryConsumer)
    return made


def test_the_fetch_loop_skips_faust_s_tasks_for_a_done_delivery() -> None:
    async def run() -> None:
        consumer = _consumer()
        flow = consumer.suspend_flow.wait()
        waited, ticked = await _ticked(consumer.wait_first(DELIVERED, flow))
        assert waited.done == [DELIVERED] and not waited.stopped
        assert not ticked  # no task was made and awaited: the loop never ran
        assert inspect.getcoroutinestate(flow) == inspect.CORO_CLOSED  # not left to warn

    asyncio.run(run())


def test_a_delivery_that_waits_is_abandoned_when_the_flow_stops() -> None:
    """As in Faust: a rebalance stops the flow, and a waiting delivery is cancelled."""
    seen: list[str] = []

    async def deliver(room: asyncio.Future[None]) -> None:
        try:
            await room
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    async def run() -> None:
        consumer = _consumer()
        rest = first_step(deliver(asyncio.get_running_loop().create_future()))
        flow = consumer.suspend_flow.wait()
        waiting = asyncio.ensure_future(consumer.wait_first(rest, flow))
        await asyncio.sleep(0.01)
        assert not waiting.done()
        consumer.stop_flow()
        waited = await waiting
        assert waited.done == [flow]
        assert seen == ["cancelled"]

    asyncio.run(run())


def test_a_full_queue_holds_the_fetch_loop_until_the_agent_caught_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Faust would pause the partitions, and its fetch loop then slept a second."""
    monkeypatch.setattr(delivery, "ROOM_WAIT_S", 30.0)  # only the drops may end the hold

    async def run() -> None:
        consumer = _consumer()
        consumer._get_active_partitions().update({TP0, TP1})
        consumer.on_buffer_full(TP0)
        consumer.on_buffer_full(TP1)
        waiting = asyncio.ensure_future(
            consumer.wait_first(DELIVERED, consumer.suspend_flow.wait())
        )
        await asyncio.sleep(0.01)
        consumer.on_buffer_drop(TP0)
        await asyncio.sleep(0.01)
        assert not waiting.done()  # partition 1's records still fill the queue
        consumer.on_buffer_drop(TP1)
        assert not (await asyncio.wait_for(waiting, 1)).stopped
        _, ticked = await _ticked(consumer.wait_first(DELIVERED, consumer.suspend_flow.wait()))
        assert not ticked  # inline again
        assert consumer._get_active_partitions() == {TP0, TP1}  # still fetched throughout

    asyncio.run(run())


def test_faust_s_own_queue_releases_the_fetch_loop_at_its_low_mark(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The agent's queue as Faust makes it, its pressure callbacks as the conductor's."""
    monkeypatch.setattr(delivery, "ROOM_WAIT_S", 30.0)

    async def run() -> None:
        consumer = _consumer()
        queue: FlowControlQueue[int] = FlowControlQueue(maxsize=10, flow_control=FlowControlEvent())

        def high() -> None:
            consumer.on_buffer_full(TP0)

        def drop() -> None:
            consumer.on_buffer_drop(TP0)

        for record in range(9):  # high mark: 10 / 1.25 = 8 records
            queue.put_nowait_enhanced(record, on_pressure_high=high, on_pressure_drop=drop)
        waiting = asyncio.ensure_future(
            consumer.wait_first(DELIVERED, consumer.suspend_flow.wait())
        )
        await asyncio.sleep(0.01)
        while not waiting.done():
            queue.get_nowait()  # as Faust's stream takes what is queued
            await asyncio.sleep(0.01)
        assert not waiting.result().stopped
        assert queue.qsize() == 3  # released by the get that found 4 (the low mark, 40 %)

    asyncio.run(run())


def test_other_topics_pause_their_partition_as_in_faust() -> None:
    """A changelog read by a standby must not hold the agent's records."""

    async def run() -> None:
        consumer = _consumer()
        changelog = TP("hot-path-vehicles-changelog", 0)
        consumer._get_active_partitions().add(changelog)
        consumer.on_buffer_full(changelog)
        assert changelog not in consumer._get_active_partitions()
        _, ticked = await _ticked(consumer.wait_first(DELIVERED, consumer.suspend_flow.wait()))
        assert not ticked
        consumer.on_buffer_drop(changelog)
        assert changelog in consumer._get_active_partitions()

    asyncio.run(run())


def test_a_held_fetch_loop_goes_on_when_the_flow_stops_or_no_word_comes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def run() -> None:
        consumer = _consumer()
        consumer.on_buffer_full(TP0)
        flow = consumer.suspend_flow.wait()
        waiting = asyncio.ensure_future(consumer.wait_first(DELIVERED, flow))
        await asyncio.sleep(0.01)
        assert not waiting.done()
        consumer.stop_flow()  # a rebalance
        assert (await asyncio.wait_for(waiting, 1)).done == [flow]
        consumer.resume_flow()
        _, ticked = await _ticked(consumer.wait_first(DELIVERED, consumer.suspend_flow.wait()))
        assert not ticked
        monkeypatch.setattr(delivery, "ROOM_WAIT_S", 0.05)
        consumer.on_buffer_full(TP0)  # and its drop never comes
        await asyncio.wait_for(consumer.wait_first(DELIVERED, consumer.suspend_flow.wait()), 1)
        _, ticked = await _ticked(consumer.wait_first(DELIVERED, consumer.suspend_flow.wait()))
        assert not ticked

    asyncio.run(run())


def test_recovery_never_holds_the_fetch_loop() -> None:
    """Changelogs are read on during recovery, as Faust reads them on."""

    async def run() -> None:
        consumer = _consumer()
        consumer.app.in_recovery = True
        consumer.on_buffer_full(TP0)
        _, ticked = await _ticked(consumer.wait_first(DELIVERED, consumer.suspend_flow.wait()))
        assert not ticked

    asyncio.run(run())


def test_the_worker_delivers_inline_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    from hot_path.app import app

    assert isinstance(app.consumer, InlineDeliveryConsumer)
    # Only a native coroutine is stepped inline (anything else goes Faust's way, silently):
    # Faust's conductor must still hand over one.
    assert inspect.iscoroutinefunction(app.topics.on_message)


def test_around_a_rebalance_records_go_faust_s_way() -> None:
    """Until recovery has sought the committed offsets, delivery keeps Faust's pace."""
    seen: list[str] = []

    async def deliver(message: str) -> None:
        seen.append(message)

    async def nothing(*args: Any) -> None:
        return None

    async def run() -> None:
        app = _consumer().app
        consumer = app.transport.create_consumer(
            callback=deliver, on_partitions_revoked=nothing, on_partitions_assigned=nothing
        )
        assert isinstance(consumer, InlineDeliveryConsumer)
        app.rebalancing = True
        handed = consumer.callback("during")
        assert handed is not DELIVERED and seen == []  # not run inline: Faust awaits it
        await handed
        app.rebalancing = False
        consumer.stop_flow()
        handed = consumer.callback("stopped")
        assert handed is not DELIVERED and seen == ["during"]
        await handed
        consumer.resume_flow()
        assert consumer.callback("flowing") is DELIVERED
        assert seen == ["during", "stopped", "flowing"]

    asyncio.run(run())
