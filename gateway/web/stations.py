"""The station page (24 h throughput chart, recent parcels, faults, dead letters) and commands."""

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from dockscan.errors import BrokerError
from gateway.web import queries, web
from gateway.web.auth import operator_required
from gateway.web.commands import COMMANDS
from gateway.web.formatting import local_time, now_ms
from gateway.web.summary import load_summaries

bp = Blueprint("stations", __name__)
HOUR_MS = 3_600_000
CHART_W, CHART_H, CHART_PAD = 720, 180, 28


def throughput_chart(counts: list[int], start_ms: int, zone: Any) -> dict[str, Any]:
    """Lay out an hourly bar chart as SVG geometry (rendered by the template, no script)."""
    peak = max(counts) or 1
    slot = (CHART_W - CHART_PAD) / len(counts)
    plot_h = CHART_H - 2 * CHART_PAD
    bars = []
    for i, n in enumerate(counts):
        h = plot_h * n / peak
        hour = start_ms + i * HOUR_MS
        bars.append(
            {
                "x": round(CHART_PAD + i * slot + 1, 1),
                "y": round(CHART_PAD + plot_h - h, 1),
                "w": round(slot - 2, 1),
                "h": round(h, 1),
                "count": n,
                "label": local_time(hour, zone, "%H:%M"),
                "title": f"{local_time(hour, zone, '%a %H:%M')}: {n} parcels",
                "tick": i % 3 == 0,
            }
        )
    return {
        "width": CHART_W,
        "height": CHART_H,
        "pad": CHART_PAD,
        "base_y": CHART_PAD + plot_h,
        "peak": peak,
        "total": sum(counts),
        "bars": bars,
    }


def station_or_404(station_id: str) -> dict[str, Any]:
    """Return a station's summary or answer 404."""
    state = web()
    found = load_summaries(state.db.conn(), state.cfg, state.board.days, station=station_id)
    if not found:
        abort(404, f"no station {station_id}")
    return found[0]


def last_24h(station_id: str) -> tuple[list[int], int]:
    """Return hourly parcel counts for the 24 hours ending with the current hour, and the start."""
    start = (now_ms() // HOUR_MS - 23) * HOUR_MS
    return queries.hourly_counts(web().db.conn(), station_id, start, 24), start


@bp.route("/stations/<station_id>")
def page(station_id: str) -> str:
    """Render one station's page."""
    summary = station_or_404(station_id)
    conn = web().db.conn()
    counts, start = last_24h(station_id)
    return render_template(
        "station.html",
        s=summary,
        chart=throughput_chart(counts, start, web().zone),
        parcels=queries.recent_parcels(conn, station_id),
        faults=queries.station_faults(conn, station_id),
        dead=queries.dead_letters(conn, station_id),
        commands=COMMANDS,
        now=now_ms(),
    )


@bp.route("/api/stations/<station_id>/commands/<name>", methods=["POST"])
@operator_required
def command(station_id: str, name: str) -> Any:
    """Publish zero, tare or resend to a station (operator role)."""
    if name not in COMMANDS:
        abort(404, f"no command {name!r} (known: {', '.join(COMMANDS)})")
    station_or_404(station_id)
    sender = f"ui:{request.remote_addr}"
    try:
        request_id = web().publisher.send(station_id, name, sender)
    except BrokerError as exc:
        if g.via_bearer:
            return {"error": str(exc)}, 503
        flash(f"{name} was not sent: {exc}", "error")
        return redirect(url_for("stations.page", station_id=station_id))
    if g.via_bearer:
        return {"station": station_id, "command": name, "request_id": request_id}, 202
    flash(f"{name} sent to {station_id} (request {request_id})", "ok")
    return redirect(url_for("stations.page", station_id=station_id))
