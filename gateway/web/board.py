"""The station board: every station's state, throughput, problem rates and devices."""

from collections import Counter
from typing import Any

from flask import Blueprint, render_template, request
from markupsafe import Markup

from gateway.web import web
from gateway.web.formatting import now_ms
from gateway.web.summary import sort_and_filter

bp = Blueprint("board", __name__)
SORTS = {"dock": "Dock", "station": "Station", "state": "State (offline first)",
         "last_event": "Last event"}  # fmt: skip


def _live_html(dock: str, sort: str) -> tuple[Markup, list[dict]]:
    """Render the live part of the board, reusing the last rendering while the data is the same."""
    state = web()
    everything = state.board.get(state.db.conn(), state.cfg)
    key = (dock, sort)
    cached = state.extra.get("board_html")
    if cached and cached[0] is everything and key in cached[1]:
        return cached[1][key], everything
    shown = sort_and_filter(everything, dock, sort)
    html = Markup(
        render_template(
            "_board_live.html",
            stations=shown,
            tally=Counter(s["state"] for s in shown),
            now=now_ms(),
        )
    )
    renders = cached[1] if cached and cached[0] is everything else {}
    if len(renders) < 64:
        renders[key] = html
    state.extra["board_html"] = (everything, renders)
    return html, everything


def _query() -> tuple[str, str]:
    """Return the dock filter and sort order from the query string."""
    sort = request.args.get("sort", "dock")
    return request.args.get("dock", ""), sort if sort in SORTS else "dock"


@bp.route("/")
def index() -> str:
    """Render the whole board page."""
    dock, sort = _query()
    live, everything = _live_html(dock, sort)
    docks = sorted({s["dock"] for s in everything if s["dock"]})
    return render_template(
        "board.html", live=live, docks=docks, dock=dock, sort=sort, sorts=SORTS, now=now_ms()
    )


@bp.route("/board/live")
def live() -> Any:
    """Render only the live part of the board (fetched again on every server-sent event)."""
    html, _ = _live_html(*_query())
    return html, {"X-Now-Ms": str(now_ms()), "Cache-Control": "no-store"}
