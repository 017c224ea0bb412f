"""Server-sent events: tell open boards when the store's data changes or the store is down.

`board`: a parcel was stored, a station row or the site's gateways (leader, heartbeats) changed;
`store`: the store cannot be read (data "down: <reason>").
"""

import logging
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app

from gateway.web import queries, site, web
from gateway.web.db import STORE_DOWN, problem
from gateway.web.formatting import now_ms

logger = logging.getLogger(__name__)
bp = Blueprint("events", __name__)


def _changes(state: Any, poll_s: float, max_s: float, limit_s: float) -> Iterator[str]:
    """Yield 'board' when the marker moves, 'store' when the store goes down; end after max_s."""
    yield "retry: 1000\n\n"
    last = None
    deadline = time.monotonic() + max_s
    while time.monotonic() < deadline:
        try:
            conn = state.db.conn()
            marker = (queries.change_marker(conn), site.read(conn, limit_s, now_ms()).key())
            event, data = "board", str(marker[0][0])
        except STORE_DOWN as exc:
            marker = ("down", problem(exc))
            event, data = "store", f"down: {marker[1]}"
        if marker != last:
            last = marker
            yield f"event: {event}\ndata: {data}\n\n"
        else:
            yield ": idle\n\n"  # a write to a closed socket ends the stream promptly
        time.sleep(poll_s)


@bp.route("/events/board")
def board() -> Any:
    """Stream board change notifications (text/event-stream); the page then refetches its rows."""
    state = web()
    if not state.streams.acquire(blocking=False):
        return {"error": "too many live boards open; retry later"}, 503, {"Retry-After": "10"}
    config = current_app.config
    stream = _changes(
        state, config["SSE_POLL_S"], config["SSE_MAX_S"], config["HEALTH_MAX_HEARTBEAT_S"]
    )
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    response = Response(stream, mimetype="text/event-stream", headers=headers)
    response.call_on_close(state.streams.release)
    return response
