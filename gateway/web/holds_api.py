"""The holds API: list and history for every role; set and release for the operator role.

A change is written to the store here; the gateway holding the site duties publishes the new
hold list to the stations within about a second.
"""

from typing import Any

from flask import Blueprint, abort, request

from gateway.clock import now_ms
from gateway.holds import HoldError, hold_history, normalise, release_hold, set_hold, snapshot
from gateway.manifests.importer import classifier_for
from gateway.web import web
from gateway.web.auth import operator_required
from gateway.web.formatting import utc_iso
from gateway.web.search import BadQuery, parse_limit
from gateway.web.writer import writer

bp = Blueprint("holds_api", __name__, url_prefix="/api/v1")
DEFAULT_ACTOR = "operator"  # the operator token names a role, not a person


def hold_json(row: dict[str, Any]) -> dict[str, Any]:
    """Return a holds row for the API, with its time also in ISO 8601."""
    return {**row, "since": utc_iso(row["set_ms"])}


def _text(body: dict[str, Any], name: str, default: str = "") -> str:
    """Return a text field of the request body (400 if it is not text)."""
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        abort(400, f"{name} must be a string")
    return value


@bp.route("/holds")
def holds() -> Any:
    """Return every current hold and the hold list's version."""
    version, rows = snapshot(web().db.conn())
    return {"version": version, "holds": [hold_json(dict(r)) for r in rows]}


@bp.route("/holds", methods=["POST"])
@operator_required
def set_one() -> Any:
    """Hold a tracking id, or change its reason and note (operator role)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "send a JSON object: {tracking_id, reason, note}")
    conn = writer()
    try:
        done = set_hold(conn, _text(body, "tracking_id"), _text(body, "reason"),
                        _text(body, "note"), _text(body, "actor", DEFAULT_ACTOR), "api",
                        classifier_for(web().cfg), now_ms())  # fmt: skip
        version, rows = snapshot(conn)
    except HoldError as exc:
        return {"error": str(exc)}, 400
    finally:
        conn.close()
    held = next(r for r in rows if r["tracking_id"] == done.change.tracking_id)
    answer = {"hold": hold_json(held), "changed": done.changed, "previous": done.previous,
              "version": version}  # fmt: skip
    return answer, 201 if done.previous is None else 200


@bp.route("/holds/<tracking_id>", methods=["DELETE"])
@operator_required
def release(tracking_id: str) -> Any:
    """Release a held tracking id (operator role); 404 if it is not held."""
    codes = classifier_for(web().cfg)
    note, actor = request.args.get("note", ""), request.args.get("actor") or DEFAULT_ACTOR
    conn = writer()
    try:
        try:
            wanted = normalise(tracking_id, codes)
        except HoldError as exc:
            return {"error": str(exc)}, 400
        if conn.execute("SELECT 1 FROM holds WHERE tracking_id = ?", (wanted,)).fetchone() is None:
            return {"error": f"{wanted} is not held"}, 404
        try:
            done = release_hold(conn, wanted, actor, "api", codes, now_ms(), note)
        except HoldError as exc:  # a bad note or actor, or released meanwhile
            return {"error": str(exc)}, 400
        version, _ = snapshot(conn)
    finally:
        conn.close()
    return {"released": done.change.tracking_id, "previous": done.previous, "version": version}


@bp.route("/holds/history")
def history() -> Any:
    """Return the latest hold changes first (of one tracking id when given)."""
    try:
        limit = parse_limit(request.args, 100)
    except BadQuery as exc:
        return {"error": str(exc)}, 400
    wanted = request.args.get("tracking_id", "")
    if wanted:
        try:
            wanted = normalise(wanted, classifier_for(web().cfg))
        except HoldError as exc:
            return {"error": str(exc)}, 400
    rows = hold_history(web().db.conn(), wanted or None, limit)
    return {"items": [{**dict(r), "at": utc_iso(r["at_ms"])} for r in rows]}
