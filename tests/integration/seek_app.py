"""A Faust app that seeks back while its fetch loop holds a batch (test_seek_fence.py).

``python -m tests.integration.seek_app worker``; the environment says the rest:
``SEEK_TOPIC`` (one partition, filled before), ``SEEK_GROUP``, ``SEEK_CONSUMER``
(``faust``: Faust's own; ``fenced``: `hot_path.fetching`; ``inline``: the
worker's), ``SEEK_HOW`` (``seek_wait``, or ``committed``: commit the offset,
then seek to the committed offsets as recovery does after a rebalance),
``SEEK_AT``/``SEEK_TO``/``SEEK_END``, ``SEEK_DATA`` (Faust's data directory)
and ``SEEK_OUT``, where the offsets the agent read go as JSON before the app
stops itself.

The agent reads slowly and its queue is short, so the fetch loop is always
waiting to hand on a batch; at offset ``SEEK_AT`` the agent seeks the
partition back to ``SEEK_TO``, as a worker's recovery or its reread of lost
records does, and then reads on to ``SEEK_END``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

import faust
from faust.types import TP

from hot_path.delivery import use_inline_delivery
from hot_path.fetching import use_seek_fence

TOPIC = os.environ["SEEK_TOPIC"]
AT, TO, END = (int(os.environ[name]) for name in ("SEEK_AT", "SEEK_TO", "SEEK_END"))
DEADLINE_S = 60.0

app = faust.App(
    os.environ["SEEK_GROUP"],
    broker=f"kafka://{os.environ['KAFKA_BOOTSTRAP_SERVERS']}",
    store="memory://",
    datadir=os.environ["SEEK_DATA"],
    web_enabled=False,
    topic_partitions=1,
    consumer_auto_offset_reset="earliest",
    broker_max_poll_records=1000,
    stream_buffer_maxsize=50,
    broker_commit_interval=3600.0,  # no commit of Faust's own before the one at the end
)
if os.environ["SEEK_CONSUMER"] == "fenced":
    use_seek_fence(app)
elif os.environ["SEEK_CONSUMER"] == "inline":
    use_inline_delivery(app, held_topics=[TOPIC])
topic = app.topic(TOPIC, value_serializer="raw")
read: list[int] = []
sought_after: list[int] = []  # how many records were read when the seek was made


def finish() -> None:
    Path(os.environ["SEEK_OUT"]).write_text(
        json.dumps({"read": read, "sought_after": sought_after})
    )
    os.kill(os.getpid(), signal.SIGTERM)  # Faust's worker stops, committing what was acked


async def seek_back() -> None:
    tp = TP(TOPIC, 0)
    if os.environ["SEEK_HOW"] == "committed":
        await app.consumer._commit({tp: TO})
        await app.consumer.perform_seek()
    else:
        await app.consumer.seek_wait({tp: TO})


@app.agent(topic)
async def slow_reader(stream: Any) -> None:
    async for event in stream.events():
        offset = event.message.offset
        read.append(offset)
        if offset == AT and not sought_after:
            sought_after.append(len(read))
            await seek_back()
        elif offset == END - 1 and sought_after:
            finish()
        await asyncio.sleep(0.0005)


@app.task
async def deadline() -> None:
    await asyncio.sleep(DEADLINE_S)
    finish()


if __name__ == "__main__":
    app.main()
