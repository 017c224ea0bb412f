"""The station board: every station's state, throughput, problem rates, devices, hub progress."""

from collections import Counter
from typing import Any

from flask import Blueprint, current_app, render_template, request
from markupsafe import Markup

from gateway.web import site, web
from gateway.web.db import STORE_DOWN, problem
from gateway.web.formatting import now_ms
from gateway.web.hub_pages import board_panel
from gateway.web.summary import sort_and_filter

bp = Blueprint("board", __name__)
SORTS = {"dock": "Dock", "station": "Station", "state": "State (offline first)",
         "last_event": "Last event"}  # fmt: skip


def site_status(conn: Any) -> site.SiteStatus:
    """Read the duty lease and the gateways' health with the app's heartbeat limit."""
    return site.read(conn, current_app.config["HEALTH_MAX_HEARTBEAT_S"], now_ms())


def _live_html(dock: str, sort: str) -> tuple[Markup, list[dict]]:
    """Render the live part of the board, reusing the last rendering while the data is the same."""
    state = web()
    conn = state.db.conn()
    everything = state.board.get(conn, state.cfg)
    hub = board_panel(conn)
    status = site_status(conn)
    key = (dock, sort, status.key())
    cached = state.extra.get("board_html")
    fresh = cached and cached[0] is everything and cached[2] is hub
    if fresh and key in cached[1]:
        return cached[1][key], everything
    shown = sort_and_filter(everything, dock, sort)
    html = Markup(
        render_template(
            "_board_live.html",
            stations=shown,
            tally=Counter(s["state"] for s in shown),
            status=status,
            hub=hub,
            now=now_ms(),
        )
    )
    renders = cached[1] if fresh else {}
    if len(renders) < 64:
        renders[key] = html
    state.extra["board_html"] = (everything, renders, hub)
    return html, everything


def _query() -> tuple[str, str]:
    """Return the dock filter and sort order from the query string."""
    sort = request.args.get("sort", "dock")
    return request.args.get("dock", ""), sort if sort in SORTS else "dock"


@bp.route("/")
def index() -> Any:
    """Render the whole board page; when the store cannot be read, the page with a banner."""
    dock, sort = _query()
    page = {"dock": dock, "sort": sort, "sorts": SORTS, "now": now_ms(),
            "refresh_s": current_app.config["STORE_DOWN_REFRESH_S"]}  # fmt: skip
    try:
        live, everything = _live_html(dock, sort)
    except STORE_DOWN as exc:
        current_app.logger.warning("board: store down: %s", exc)
        docks = sorted({st.dock for st in web().cfg.stations if st.dock})
        html = render_template("board.html", live="", docks=docks, store_down=problem(exc), **page)
        return html, 503, {"Retry-After": str(page["refresh_s"])}
    docks = sorted({s["dock"] for s in everything if s["dock"]})
    return render_template("board.html", live=live, docks=docks, store_down="", **page)


@bp.route("/board/live")
def live() -> Any:
    """Render only the live part of the board (fetched again on every server-sent event)."""
    headers = {"X-Now-Ms": str(now_ms()), "Cache-Control": "no-store"}
    try:
        html, _ = _live_html(*_query())
    except STORE_DOWN as exc:
        text = f"store down: {problem(exc)}"
        return text, 503, {**headers, "Content-Type": "text/plain; charset=utf-8"}
    return html, headers
