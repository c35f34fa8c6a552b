"""``GET /live``: alerts and car states as Server-Sent Events (docs/serving.md, "Live updates")."""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import StreamingResponse

from serving.config import ServingSettings
from serving.live import LiveFeed, stream

router = APIRouter(tags=["live"])
_made = threading.Lock()


def get_feed(request: Request) -> LiveFeed:
    """The app's one feed, made on first use (tests may put their own in ``app.state``)."""
    state = request.app.state
    with _made:
        feed: LiveFeed | None = getattr(state, "live_feed", None)
        if feed is None:
            settings: ServingSettings = state.settings
            feed = state.live_feed = LiveFeed(state.engine, bucket_s=settings.speed_bucket_s)
    return feed


FeedDep = Annotated[LiveFeed, Depends(get_feed)]


# Not in the OpenAPI description: a stream never ends, which schema fuzzers cannot handle.
@router.get("/live", include_in_schema=False)
async def live(
    feed: FeedDep, last_event_id: Annotated[str | None, Header(max_length=64)] = None
) -> StreamingResponse:
    """Alert and car-state changes as they reach the store; resumes from ``Last-Event-ID``."""
    return StreamingResponse(
        stream(feed, last_event_id=last_event_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
