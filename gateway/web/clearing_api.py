"""The clearing API: the queue, a parcel's corrections, correcting one (operator), the export."""

from typing import Any

from flask import Blueprint, Response, abort, g, request

from dockscan.correction_events import CorrectionAction
from gateway.clearing import queue
from gateway.clearing.corrections import (
    UNSET,
    CorrectionError,
    corrections_of,
    corrections_since,
)
from gateway.web import web
from gateway.web.auth import operator_required, who
from gateway.web.clearing import QUEUE_SIZE, save, selected_shift
from gateway.web.formatting import local_time, now_ms, utc_iso
from gateway.web.hub_pages import csv_stream
from gateway.web.search import BadQuery, is_event_id, parse_limit

bp = Blueprint("clearing_api", __name__)
CSV_COLUMNS = (
    "correction_id", "event_id", "station", "local_time", "utc_time", "action", "code",
    "tracking_id", "kind", "check_ok", "original_outcome", "note", "by", "supersedes",
)  # fmt: skip
EXPORT_MAX = 100_000


def correction_json(row: dict[str, Any]) -> dict[str, Any]:
    """Return a stored correction as the API shows it."""
    check = row["check_ok"]
    return {
        "correction_id": row["id"], "event_id": row["event_id"], "station": row["station"],
        "action": row["action"], "code": row["code"], "kind": row["kind"],
        "check_ok": None if check is None else bool(check), "tracking_id": row["tracking_id"],
        "original_outcome": row["original_outcome"], "note": row["note"], "by": row["actor"],
        "at": utc_iso(row["created_ms"]), "supersedes": row["supersedes"],
    }  # fmt: skip


def _since() -> int:
    """Return the `since` query parameter as epoch ms (0 when absent), or answer 400."""
    raw = request.args.get("since", "0")
    if not raw.isdigit() or len(raw) > 15:
        abort(400, "since: epoch milliseconds")
    return int(raw)


@bp.route("/api/v1/clearing")
def clearing() -> Any:
    """Return the unresolved unread parcels of a dock and shift, oldest first."""
    state = web()
    try:
        limit = parse_limit(request.args, QUEUE_SIZE)
    except BadQuery as exc:
        return {"error": str(exc)}, 400
    items = queue.unresolved(state.db.conn(), request.args.get("dock", ""), selected_shift(), limit)
    now, missing = now_ms(), int(state.cfg.clearing.missing_after_s * 1000)
    out = []
    for item in items:
        states = queue.image_states(item, now, missing)
        out.append({
            "event_id": item["event_id"], "station": item["station"], "dock": item["dock"],
            "ts": utc_iso(item["ts_ms"]), "outcome": item["outcome"],
            "weight_kg": item["weight_kg"], "codes": item["codes"],
            "images": [{"index": i, "state": s,
                        "url": f"/evidence/{item['event_id']}/{i}.jpg" if s == "stored" else None}
                       for i, s in enumerate(states)],
        })  # fmt: skip
    return {"items": out}


@bp.route("/api/v1/parcels/<event_id>/corrections")
def parcel_corrections(event_id: str) -> Any:
    """Return a parcel's corrections, the one in force first."""
    if not is_event_id(event_id):
        abort(404, f"no parcel {event_id}")
    rows = corrections_of(web().db.conn(), event_id)
    return {"items": [correction_json(r) for r in rows]}


@bp.route("/api/v1/parcels/<event_id>/corrections", methods=["POST"])
@operator_required
def add_correction(event_id: str) -> Any:
    """Correct an unread parcel: a keyed code, or relabelled, or returned to the sorter."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "send a JSON object: {action, code, note, actor, replaces}")
    fields = {k: body.get(k, "") for k in ("action", "code", "note", "actor")}
    if any(not isinstance(v, str) for v in fields.values()):
        return {"error": "action, code, note and actor are strings"}, 400
    replaces = body.get("replaces", UNSET)
    if replaces is not None and (not isinstance(replaces, int) or isinstance(replaces, bool)):
        return {"error": "replaces: the correction id in force, or null for none"}, 400
    try:
        done = save(event_id, fields["action"] or CorrectionAction.KEYED.value, fields["code"],
                    fields["note"], fields["actor"] or _default_actor(), replaces)  # fmt: skip
    except CorrectionError as exc:
        return {"error": str(exc)}, exc.status
    return done.model_dump(mode="json", by_alias=True), 201


def _default_actor() -> str:
    """Return who corrects when the request does not say: a token names a role, not a person."""
    return "operator" if g.via_bearer else who()


@bp.route("/api/v1/corrections")
def recent() -> Any:
    """Return the corrections made since a time (epoch ms), oldest first."""
    try:
        limit = parse_limit(request.args, 100)
    except BadQuery as exc:
        return {"error": str(exc)}, 400
    rows = corrections_since(web().db.conn(), _since(), limit)
    return {"items": [correction_json(r) for r in rows]}


@bp.route("/corrections.csv")
def export() -> Any:
    """Download the corrections made since a time as CSV (every cell neutralised)."""
    zone = web().zone
    rows = (
        (r["id"], r["event_id"], r["station"], local_time(r["created_ms"], zone),
         utc_iso(r["created_ms"]), r["action"], r["code"] or "", r["tracking_id"] or "",
         r["kind"] or "", "" if r["check_ok"] is None else bool(r["check_ok"]),
         r["original_outcome"], r["note"], r["actor"], r["supersedes"] or "")
        for r in corrections_since(web().db.conn(), _since(), EXPORT_MAX)
    )  # fmt: skip
    headers = {"Content-Disposition": 'attachment; filename="corrections.csv"'}
    return Response(csv_stream(CSV_COLUMNS, rows), mimetype="text/csv", headers=headers)
