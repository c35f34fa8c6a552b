"""The worker's Faust consumer: it hands a record to the agent's queue without four tasks.

Faust's fetch loop (``Consumer._drain_messages``, faust-streaming 0.15.3)
delivers each record by ``wait_first(callback(message), suspend_flow.wait())``:
four tasks (the delivery, the flow's event, the consumer's stopped and crashed
events), an ``asyncio.wait`` and three cancellations, so that a delivery
that has to wait (the agent's queue full, the flow held for a rebalance) can
be abandoned when the flow stops. That costs 24-31 us a record in a plain
loop, a third of an empty agent's time, while almost every delivery is a
``put_nowait`` that never waits (docs/hot_path.md, "Ninth round").

`InlineDeliveryConsumer` runs the delivery's first step at once, in the
fetch loop's own task. A delivery that finished there is done, and Faust's
``wait_first`` is skipped. One that stopped to wait goes on in a task of its
own under Faust's ``wait_first``, from the point where it stopped (`_Rest`),
so a rebalance abandons it exactly as before. Nothing is predicted about
Faust's delivery: the coroutine says by itself whether it had to wait.
While the flow is stopped or a rebalance is under way (until recovery has
sought the committed offsets), records go Faust's way, at Faust's pace.

The first step runs as the fetch loop's task and in its context: a delivery
must not start anything bound to its task (``asyncio.timeout``, a context
variable it sets) before it first waits. Faust's (the conductor, its flow
control, the channels' decode and ``put_nowait``) starts nothing of the kind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable
from functools import partial
from types import CoroutineType
from typing import Any

from faust.transport.drivers import aiokafka
from faust.types import TP
from mode.services import WaitArgT, WaitResults
from mode.utils.times import Seconds

from hot_path.fetching import SeekFencedConsumer

ROOM_WAIT_S = 1.0
"""The most the fetch loop waits for the agent's queue to drain (then Faust's own put waits)."""


class _Delivered:
    """What an inline delivery that finished in its first step hands to ``wait_first``."""

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield  # a generator that yields nothing: awaiting it is instant


DELIVERED = _Delivered()
_DONE = WaitResults([DELIVERED], [None], False)
"""``wait_first``'s answer for a delivery that is done: one, as Faust's fetch loop ignores it."""


class _Rest:
    """The rest of a coroutine whose first step ran elsewhere and stopped at ``waiting``.

    Awaited in a task, it waits on what the coroutine waited on, then goes
    on with the coroutine as ``await`` would: values sent and exceptions
    thrown in (a cancellation) reach it, its result is the coroutine's.
    """

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting: Any) -> None:
        self.coro, self.waiting = coro, waiting

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, waiting = self.coro, self.waiting
        while True:
            try:
                sent = yield waiting
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # a cancellation, mostly: the coroutine's to handle
                resume: Callable[[], Any] = partial(coro.throw, exc)
            else:
                resume = partial(coro.send, sent)
            try:
                waiting = resume()
            except StopIteration as done:
                return done.value


def first_step(delivery: Awaitable[Any]) -> Awaitable[Any]:
    """Run ``delivery`` until it first waits: `DELIVERED` if it finished, else its `_Rest`.

    An exception out of the first step is raised here, as awaiting the
    coroutine would have raised it (Faust's fetch loop logs it and stops).
    Anything but a coroutine is handed back untouched, to be awaited as before.
    """
    if type(delivery) is not CoroutineType:
        return delivery
    try:
        waiting = delivery.send(None)
    except StopIteration:
        return DELIVERED
    return _Rest(delivery, waiting)


class InlineDeliveryConsumer(SeekFencedConsumer):
    """The seek-fenced consumer, delivering each record inline when it need not wait.

    Delivered inline, records reach the agent's queue faster than the agent
    takes them. Faust's answer to a queue past its high mark (80 % of
    ``stream_buffer_maxsize``) is to stop fetching that partition until the
    queue is down to its low mark (40 %) or empty; with every partition of
    the agent's topic stopped so, the fetch loop slept a whole second
    (``Consumer._wait_next_records``), every few thousand records. For the
    held topics (the agent's), the fetch loop itself waits instead, until
    the queue is back under its low mark (or the flow stops, or
    ``ROOM_WAIT_S`` passed), and their partitions stay fetched. Other topics'
    partitions (the tables' changelogs, read by standbys) pause as in Faust.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        deliver = self.callback  # the conductor's: the record to every channel's queue
        app = self.app

        def callback(message: Any) -> Awaitable[Any]:
            # Only outside a rebalance. Until recovery has sought the committed offsets
            # (`on_rebalance_end` comes after), Faust's bookkeeping races with the records
            # delivered meanwhile (docs/hot_path.md, "The restarted worker that stopped
            # committing"); delivered inline, many more of them got there, and one CI run
            # lost 400 records to a gap. There, records go Faust's way, at Faust's pace.
            if self.flow_active and not app.rebalancing:
                return first_step(deliver(message))
            return deliver(message)

        self.callback = callback
        self._held_topics: frozenset[str] = getattr(self.transport, "held_topics", frozenset())
        self._full: set[TP] = set()
        self._room = asyncio.Event()
        self._room.set()

    async def wait_first(self, *coros: WaitArgT, timeout: Seconds | None = None) -> WaitResults:
        if coros and coros[0] is DELIVERED:  # the fetch loop's, for a delivery that is done
            if self._room.is_set():
                for other in coros[1:]:
                    if type(other) is CoroutineType:
                        other.close()  # ``suspend_flow.wait()``, never started
                return _DONE
            # The agent is behind: wait here until its queue has room, while the flow goes on.
            waited = await super().wait_first(self._room.wait(), *coros[1:], timeout=ROOM_WAIT_S)
            if not self._room.is_set():  # the flow stopped, or no word came: go on as Faust would
                self._full.clear()
                self._room.set()
            return waited
        # mode declares ``timeout: Seconds = None``: None is its default, not in its type.
        return await super().wait_first(*coros, timeout=timeout)  # type: ignore[arg-type]

    def on_buffer_full(self, tp: TP) -> None:
        if tp.topic not in self._held_topics:
            super().on_buffer_full(tp)
        elif not self.app.in_recovery:  # as Faust's: nothing is paused in recovery
            self._full.add(tp)
            self._room.clear()

    def on_buffer_drop(self, tp: TP) -> None:
        if tp.topic not in self._held_topics:
            super().on_buffer_drop(tp)
            return
        self._full.discard(tp)
        if not self._full:
            self._room.set()


class InlineDeliveryTransport(aiokafka.Transport):
    Consumer = InlineDeliveryConsumer

    def __init__(self, url: Any, app: Any, *, held_topics: Iterable[str]) -> None:
        super().__init__(url, app)
        self.held_topics = frozenset(held_topics)


def use_inline_delivery(app: Any, *, held_topics: Iterable[str]) -> None:
    """Give ``app`` the inline-delivery consumer (before its consumer is first used).

    ``held_topics``: the topics whose full queue holds the fetch loop rather
    than pausing the partition (the agent's input).
    """
    app.transport = InlineDeliveryTransport(app.conf.broker_consumer, app, held_topics=held_topics)
