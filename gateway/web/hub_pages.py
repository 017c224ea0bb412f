"""Hub pages: manifests, one manifest's lines, close-out, the discrepancy queue, holds."""

import base64
import binascii
import csv
import io
import re
from collections.abc import Iterable, Iterator
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from gateway import holds
from gateway.clearing import queue
from gateway.manifests import closeout
from gateway.manifests.importer import classifier_for
from gateway.reconcile.worker import judge_pending
from gateway.web import hub_queries, queries, web
from gateway.web.auth import operator_required, who
from gateway.web.formatting import day_start_ms, local_time, now_ms, utc_iso
from gateway.web.parcels import FORMULA_START
from gateway.web.search import BadQuery, decode_cursor, encode_cursor, parse_limit
from gateway.web.writer import writer

bp = Blueprint("hub", __name__)
_STATION = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_TRACKING = re.compile(r"^[\x21-\x7e]{1,64}$")
REPORT_ROWS = 500  # per section of the report page; the CSV has every line
CSV_COLUMNS = (
    "event_id", "local_time", "utc_time", "station", "tracking_id", "match", "weight",
    "manifest_id", "declared_kg", "measured_kg", "delta_kg", "tolerance_kg", "hold",
    "first_event_id",
)  # fmt: skip
KIND_LABELS = {"": "all", "weight_over": "weight over", "weight_under": "weight under",
               "unexpected": "unexpected", "duplicate": "duplicate"}  # fmt: skip


def actor() -> str:
    """Return who is acting from the UI: the name given at log-in, else the client's address."""
    return who()


def csv_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas in untrusted text cells (numbers pass as they are)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_stream(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """Yield CSV text in chunks of about 16 kB, every cell neutralised."""
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(header)
    for row in rows:
        out.writerow(csv_cell(v) for v in row)
        if buf.tell() > 16_384:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def encode_line_cursor(line_no: int, tracking_id: str) -> str:
    """Encode the position after a manifest line as an opaque cursor."""
    raw = f"{line_no}:{tracking_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_line_cursor(cursor: str) -> hub_queries.LineCursor:
    """Decode a cursor made by encode_line_cursor, or raise BadQuery."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        line_no, tracking_id = raw.split(":", 1)
        if not _TRACKING.match(tracking_id) or not 0 <= int(line_no) < 2**62:
            raise ValueError(tracking_id)
        return hub_queries.LineCursor(int(line_no), tracking_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadQuery("after: not a cursor this server issued") from None


def board_panel(conn: queries.Conn) -> dict[str, Any]:
    """Return the board's hub panel: manifests' progress, holds seen today, the clearing desk."""
    state, now = web(), now_ms()
    max_age = current_app.config["BOARD_CACHE_MS"]
    cached = state.extra.get("hub_board")
    if cached and max_age > 0 and now - cached[0] < max_age:
        return cached[1]
    panel = {
        "manifests": hub_queries.manifest_progress(conn, "open", limit=20),
        "holds": hub_queries.holds_seen_by_station(conn, day_start_ms(now, state.zone)),
        "clearing": queue.panel(conn, now, int(state.cfg.clearing.missing_after_s * 1000)),
    }
    state.extra["hub_board"] = (now, panel)
    return panel


def manifest_or_404(conn: queries.Conn, manifest_id: str) -> dict[str, Any]:
    """Return a manifest's header with its progress, or answer 404."""
    header = hub_queries.manifest_header(conn, manifest_id)
    if header is None:
        abort(404, f"no manifest {manifest_id}")
    return header


@bp.route("/manifests")
def manifests() -> Any:
    """List the open manifests, then the closed ones a page at a time, with their progress."""
    conn, size = web().db.conn(), current_app.config["PAGE_SIZE"]
    page = request.args.get("page", "0")
    if not page.isdigit() or int(page) > 100_000:
        abort(400, "page: a whole number")
    page_no = int(page)
    closed = hub_queries.manifest_progress(conn, "closed", size + 1, page_no * size)
    return render_template(
        "manifests.html",
        open=hub_queries.manifest_progress(conn, "open"),
        closed=closed[:size],
        page=page_no,
        more=len(closed) > size,
    )


@bp.route("/manifests/<path:manifest_id>")
def manifest(manifest_id: str) -> Any:
    """Show one manifest: header, progress and its lines filtered by verdict, a page at a time."""
    conn = web().db.conn()
    header = manifest_or_404(conn, manifest_id)
    flt = request.args.get("verdict", "all") or "all"
    if flt not in hub_queries.LINE_FILTERS:
        abort(400, f"verdict: one of {', '.join(hub_queries.LINE_FILTERS)}")
    try:
        limit = parse_limit(request.args, current_app.config["PAGE_SIZE"])
        raw = request.args.get("after", "")
        after = decode_line_cursor(raw) if raw else None
    except BadQuery as exc:
        abort(400, str(exc))
    rows = hub_queries.manifest_line_page(conn, header, flt, limit + 1, after)
    cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        cursor = encode_line_cursor(rows[-1]["line_no"], rows[-1]["tracking_id"])
    return render_template(
        "manifest.html",
        m=header,
        tally=hub_queries.manifest_tally(conn, header),
        rows=rows,
        flt=flt,
        filters=hub_queries.LINE_FILTERS,
        cursor=cursor,
        paged=after is not None,
    )


@bp.route("/manifests/<path:manifest_id>/report")
def report(manifest_id: str) -> Any:
    """Show a manifest's close-out report (while open: its progress so far)."""
    conn = web().db.conn()
    manifest_or_404(conn, manifest_id)
    found = closeout.report(conn, manifest_id)
    return render_template("manifest_report.html", r=found, most=REPORT_ROWS)


@bp.route("/manifests/<path:manifest_id>/report.csv")
def report_csv(manifest_id: str) -> Any:
    """Download a manifest's close-out report as CSV (every line, then the unexpected parcels)."""
    conn = web().db.conn()
    manifest_or_404(conn, manifest_id)
    found = closeout.report(conn, manifest_id)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", manifest_id)
    headers = {"Content-Disposition": f'attachment; filename="closeout-{name}.csv"'}
    return Response(closeout.report_csv(found), mimetype="text/csv", headers=headers)


@bp.route("/manifests/close", methods=["POST"])
@operator_required
def close() -> Any:
    """Close an open manifest (operator role); its close-out report is then final."""
    manifest_id = request.form.get("manifest_id", "")
    manifest_or_404(web().db.conn(), manifest_id)
    conn = writer()
    try:
        now = now_ms()  # parcels stored after the queue is judged come after the close
        judge_pending(conn, web().cfg)
        done = closeout.close(conn, manifest_id, actor(), now, web().cfg.site.id)
    except closeout.CloseoutError as exc:
        flash(f"{manifest_id} was not closed: {exc}", "error")
        return redirect(url_for("hub.manifest", manifest_id=manifest_id))
    finally:
        conn.close()
    web().extra.pop("hub_board", None)
    flash(f"{manifest_id} closed: {done.seen} of {done.expected} seen", "ok")
    return redirect(url_for("hub.report", manifest_id=manifest_id))


def _queue_args() -> tuple[str, str, tuple[int, str] | None]:
    """Return the queue's kind, station and cursor from the query string, or raise BadQuery."""
    kind = request.args.get("kind", "").strip()
    if kind and kind not in hub_queries.DISCREPANCIES:
        raise BadQuery(f"kind: one of {', '.join(hub_queries.DISCREPANCIES)}")
    station = request.args.get("station", "").strip()
    if station and not _STATION.match(station):
        raise BadQuery("station: must match [A-Za-z0-9_-]{1,64}")
    cursor = request.args.get("cursor", "").strip()
    return kind, station, decode_cursor(cursor) if cursor else None


@bp.route("/discrepancies")
def discrepancies() -> Any:
    """The queue of weight-over/under, unexpected and duplicate parcels, newest first."""
    conn = web().db.conn()
    error, rows, cursor = "", [], None
    kind, station = "", ""
    try:
        kind, station, after = _queue_args()
        limit = parse_limit(request.args, current_app.config["PAGE_SIZE"])
        rows = hub_queries.discrepancies(conn, kind, station, limit + 1, after)
        if len(rows) > limit:
            rows = rows[:limit]
            cursor = encode_cursor(rows[-1]["ts_ms"], rows[-1]["event_id"])
    except BadQuery as exc:
        error = str(exc)
    args = {k: v for k, v in request.args.items() if k in ("kind", "station", "limit") and v}
    stations = sorted(set(queries.station_ids(conn)) | {s.id for s in web().cfg.stations})
    return render_template(
        "discrepancies.html", rows=rows, cursor=cursor, args=args, error=error, kind=kind,
        station=station, kinds=KIND_LABELS, stations=stations,
    ), (400 if error else 200)  # fmt: skip


@bp.route("/discrepancies.csv")
def discrepancies_csv() -> Any:
    """Export the queue as filtered (up to CSV_MAX_ROWS) as CSV, formulas neutralised."""
    try:
        kind, station, after = _queue_args()
    except BadQuery as exc:
        abort(400, str(exc))
    state = web()
    rows = hub_queries.discrepancies(
        state.db.conn(), kind, station, current_app.config["CSV_MAX_ROWS"], after
    )
    cells = (
        (
            r["event_id"], local_time(r["ts_ms"], state.zone), utc_iso(r["ts_ms"]), r["station"],
            r["tracking_id"], r["match"], r["weight"], r["manifest_id"], r["declared_kg"],
            r["measured_kg"], r["delta_kg"], r["tolerance_kg"], r["hold"], r["first_event_id"],
        )
        for r in rows
    )  # fmt: skip
    name = "discrepancies" + (f"-{kind}" if kind else "") + (f"-{station}" if station else "")
    headers = {"Content-Disposition": f'attachment; filename="{name}.csv"'}
    return Response(csv_stream(CSV_COLUMNS, cells), mimetype="text/csv", headers=headers)


@bp.route("/holds")
def holds_page() -> Any:
    """List the current holds and the latest changes (of one tracking id when searched)."""
    conn = web().db.conn()
    wanted, error = request.args.get("tracking_id", "").strip(), ""
    if wanted:
        try:
            wanted = holds.normalise(wanted, classifier_for(web().cfg))
        except holds.HoldError as exc:
            error, wanted = str(exc), ""
    return render_template(
        "holds.html",
        held=[] if error else hub_queries.current_holds(conn, wanted),
        total=hub_queries.holds_count(conn),
        history=[] if error else holds.hold_history(conn, wanted or None, 200),
        wanted=wanted,
        error=error,
        reasons=holds.REASONS,
    ), (400 if error else 200)


def _hold_change(action: str) -> Any:
    """Set or release a hold from the holds page's form, then show the page again."""
    form, codes = request.form, classifier_for(web().cfg)
    text, note = form.get("tracking_id", ""), form.get("note", "")
    conn = writer()
    try:
        if action == "set":
            reason = form.get("reason", "")
            done = holds.set_hold(conn, text, reason, note, actor(), "api", codes, now_ms())
        else:
            done = holds.release_hold(conn, text, actor(), "api", codes, now_ms(), note)
    except holds.HoldError as exc:
        flash(f"hold not {'set' if action == 'set' else 'released'}: {exc}", "error")
        return redirect(url_for("hub.holds_page"))
    finally:
        conn.close()
    web().extra.pop("hub_board", None)
    what = "held" if action == "set" else "released"
    flash(f"{done.change.tracking_id} {what}" + ("" if done.changed else " (no change)"), "ok")
    return redirect(url_for("hub.holds_page"))


@bp.route("/holds/set", methods=["POST"])
@operator_required
def hold_set() -> Any:
    """Hold a tracking id with a reason and a note (operator role)."""
    return _hold_change("set")


@bp.route("/holds/release", methods=["POST"])
@operator_required
def hold_release() -> Any:
    """Release a held tracking id (operator role)."""
    return _hold_change("release")
