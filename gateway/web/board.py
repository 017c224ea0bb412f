"""The station board: every station's state, throughput, problem rates and devices."""

from collections import Counter
from typing import Any

from flask import Blueprint, render_template, request

from gateway.web import web
from gateway.web.formatting import now_ms
from gateway.web.summary import sort_and_filter

bp = Blueprint("board", __name__)
SORTS = {"dock": "Dock", "station": "Station", "state": "State (offline first)",
         "last_event": "Last event"}  # fmt: skip


def _board_context() -> dict[str, Any]:
    """Summaries filtered and sorted by the query string, plus the state tally and dock list."""
    state = web()
    everything = state.board.get(state.db.conn(), state.cfg)
    dock = request.args.get("dock", "")
    sort = request.args.get("sort", "dock")
    shown = sort_and_filter(everything, dock, sort if sort in SORTS else "dock")
    return {
        "stations": shown,
        "tally": Counter(s["state"] for s in shown),
        "docks": sorted({s["dock"] for s in everything if s["dock"]}),
        "dock": dock,
        "sort": sort,
        "sorts": SORTS,
        "now": now_ms(),
    }


@bp.route("/")
def index() -> str:
    """Render the whole board page."""
    return render_template("board.html", **_board_context())


@bp.route("/board/live")
def live() -> str:
    """Render only the live part of the board (fetched again on every server-sent event)."""
    return render_template("_board_live.html", **_board_context())
