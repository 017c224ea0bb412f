"""Parcel search, parcel detail and CSV export pages."""

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request

from dockscan.events import Outcome
from gateway.web import hub_queries, queries, web
from gateway.web.clearing import parcel_clearing
from gateway.web.formatting import local_time, utc_iso
from gateway.web.search import BadQuery, encode_cursor, is_event_id, parse_filter, parse_limit

bp = Blueprint("parcels", __name__)
CSV_COLUMNS = (
    "event_id", "local_time", "utc_time", "site", "dock", "station", "seq", "outcome",
    "barcode", "codes", "weight_kg", "flags", "received_utc",
)  # fmt: skip
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def row_to_api(row: Any) -> dict[str, Any]:
    """Return a stored parcel row as the API shows it."""
    return {
        "event_id": row["event_id"],
        "site": row["site"],
        "dock": row["dock"],
        "station": row["station"],
        "seq": row["seq"],
        "ts": utc_iso(row["ts_ms"]),
        "ts_ms": row["ts_ms"],
        "received": utc_iso(row["received_ms"]),
        "committed": utc_iso(row["committed_ms"]),
        "outcome": row["outcome"],
        "barcode": row["barcode"],
        "weight_kg": row["weight_kg"],
        "flags": [f for f in (row["flags"] or "").split(",") if f],
    }


def load_detail(conn: queries.Conn, event_id: str) -> dict[str, Any] | None:
    """Return a parcel's stored fields, its event payload and its codes, or None."""
    if not is_event_id(event_id):
        return None
    row = queries.parcel(conn, event_id)
    if row is None:
        return None
    try:
        event = json.loads(row["payload"])
        problem = ""
    except ValueError as exc:
        event, problem = None, f"stored payload is not JSON: {exc}"
    return {
        "parcel": row_to_api(row),
        "event": event,
        "payload_problem": problem,
        "raw_payload": row["payload"],
        "codes": [dict(c) for c in queries.parcel_codes(conn, event_id)],
    }


def run_search(limit: int) -> tuple[queries.ParcelFilter, list, str | None]:
    """Run the search in the request's query string; return filter, rows and the next cursor."""
    flt = parse_filter(request.args, web().zone)
    rows = queries.search_parcels(web().db.conn(), flt, limit + 1)
    cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        cursor = encode_cursor(rows[-1]["ts_ms"], rows[-1]["event_id"])
    return flt, rows, cursor


@bp.route("/parcels")
def search() -> Any:
    """Search parcels by barcode, station, outcome and time; one page at a time."""
    error, rows, cursor = "", [], None
    try:
        limit = parse_limit(request.args, current_app.config["PAGE_SIZE"])
        _, rows, cursor = run_search(limit)
    except BadQuery as exc:
        error = str(exc)
    args = {k: v for k, v in request.args.items() if k != "cursor"}
    return render_template(
        "parcels.html",
        rows=rows,
        cursor=cursor,
        args=args,
        error=error,
        outcomes=list(Outcome.__members__),
        stations=sorted(
            set(queries.station_ids(web().db.conn())) | {s.id for s in web().cfg.stations}
        ),
    ), (400 if error else 200)


def _csv_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas in untrusted text cells."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


@bp.route("/parcels.csv")
def export_csv() -> Any:
    """Export every parcel matching the search (up to CSV_MAX_ROWS) as CSV, streamed."""
    try:
        flt = parse_filter(request.args, web().zone)
    except BadQuery as exc:
        abort(400, str(exc))
    state = web()
    conn, zone = state.db.conn(), state.zone
    maximum = current_app.config["CSV_MAX_ROWS"]

    def generate() -> Iterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(CSV_COLUMNS)
        for row in queries.search_parcels(conn, flt, maximum):
            codes = " ".join(c["text"] for c in queries.parcel_codes(conn, row["event_id"]))
            writer.writerow(
                _csv_cell(v)
                for v in (
                    row["event_id"], local_time(row["ts_ms"], zone), utc_iso(row["ts_ms"]),
                    row["site"], row["dock"], row["station"], row["seq"], row["outcome"],
                    row["barcode"] or "", codes, row["weight_kg"], row["flags"],
                    utc_iso(row["received_ms"]),
                )
            )  # fmt: skip
            if buf.tell() > 16_384:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    headers = {"Content-Disposition": 'attachment; filename="parcels.csv"'}
    return Response(generate(), mimetype="text/csv", headers=headers)


@bp.route("/parcels/<event_id>")
def detail(event_id: str) -> Any:
    """Show every field of one parcel, its verdict, its manifest lines and all codes read."""
    conn = web().db.conn()
    found = load_detail(conn, event_id)
    if found is None:
        abort(404, f"no parcel {event_id}")
    images = list(found["event"].get("images", [])) if found["event"] else []
    clearing = parcel_clearing(conn, event_id, found["parcel"]["station"], images)
    return render_template(
        "parcel.html", hub=hub_queries.parcel_hub(conn, event_id), clearing=clearing, **found
    )
