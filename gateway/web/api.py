"""The JSON API: the site's gateways, stations, parcels (cursor pagination), single parcels."""

from typing import Any

from flask import Blueprint, Response, abort, current_app, request

from gateway.web import web
from gateway.web.board import site_status
from gateway.web.parcels import load_detail, row_to_api, run_search
from gateway.web.search import BadQuery, parse_limit
from gateway.web.stations import last_24h, station_or_404

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.route("/site")
def site() -> Any:
    """Return who holds the site duty lease and every gateway's heartbeat and broker state."""
    status = site_status(web().db.conn())
    return {
        "site": web().cfg.site.id,
        "leader": status.leader,
        "lease": status.lease_json(),
        "gateways": status.gateways_json(),
    }


@bp.route("/stations")
def stations() -> Any:
    """List every station with its state, counts, rates, outbox depth and devices."""
    state = web()
    items = state.board.get(state.db.conn(), state.cfg)
    cached = state.extra.get("stations_json")
    if cached is None or cached[0] is not items:
        cached = (items, current_app.json.dumps(items))
        state.extra["stations_json"] = cached
    return Response(cached[1], mimetype="application/json")


@bp.route("/stations/<station_id>")
def station(station_id: str) -> Any:
    """Return one station's summary with its hourly parcel counts over the last 24 hours."""
    summary = dict(station_or_404(station_id))
    counts, start = last_24h(station_id)
    summary["hourly_24h"] = {"start_ms": start, "counts": counts}
    return summary


@bp.route("/parcels")
def parcels() -> Any:
    """Search parcels, most recent first; follow next_cursor for the next page."""
    try:
        limit = parse_limit(request.args, current_app.config["PAGE_SIZE"])
        _, rows, cursor = run_search(limit)
    except BadQuery as exc:
        return {"error": str(exc)}, 400
    return {"items": [row_to_api(r) for r in rows], "next_cursor": cursor}


@bp.route("/parcels/<event_id>")
def parcel(event_id: str) -> Any:
    """Return one parcel: stored fields, the event as received, and every code."""
    found = load_detail(web().db.conn(), event_id)
    if found is None:
        abort(404, f"no parcel {event_id}")
    found.pop("raw_payload")
    return found
