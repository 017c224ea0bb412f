"""Server-sent events: tell open boards when a parcel is stored or a station row changes."""

import logging
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app

from gateway.web import queries, web

logger = logging.getLogger(__name__)
bp = Blueprint("events", __name__)


def _changes(state: Any, poll_s: float, max_s: float) -> Iterator[str]:
    """Yield a 'board' event whenever the store's change marker moves; end after max_s."""
    yield "retry: 1000\n\n"
    last = None
    deadline = time.monotonic() + max_s
    while time.monotonic() < deadline:
        marker = queries.change_marker(state.db.conn())
        if marker != last:
            last = marker
            yield f"event: board\ndata: {marker[0] or 0}\n\n"
        else:
            yield ": idle\n\n"  # a write to a closed socket ends the stream promptly
        time.sleep(poll_s)


@bp.route("/events/board")
def board() -> Any:
    """Stream board change notifications (text/event-stream); the page then refetches its rows."""
    state = web()
    if not state.streams.acquire(blocking=False):
        return {"error": "too many live boards open; retry later"}, 503, {"Retry-After": "10"}
    stream = _changes(state, current_app.config["SSE_POLL_S"], current_app.config["SSE_MAX_S"])
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    response = Response(stream, mimetype="text/event-stream", headers=headers)
    response.call_on_close(state.streams.release)
    return response
