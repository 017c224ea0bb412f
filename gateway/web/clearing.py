"""The clearing desk page, evidence images, and saving a clerk's correction from the form.

Made for a clerk who clears hundreds of parcels a shift without the mouse: the code field has
the focus, Enter saves and moves on to the next parcel, the arrow keys (or PageUp/PageDown)
go to the previous and next one, Alt+R and Alt+S mark the parcel relabelled or returned to the
sorter. Images are served by parcel id and index, never by file name, to logged-in users only.
"""

from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, session, url_for

from dockscan.correction_events import CorrectionAction
from gateway import evidence
from gateway.clearing import queue
from gateway.clearing.corrections import CorrectionError, Request, correct, corrections_of
from gateway.manifests.importer import classifier_for
from gateway.reconcile.matcher import Reconciler
from gateway.web import web
from gateway.web.auth import operator_required, who
from gateway.web.formatting import now_ms
from gateway.web.search import is_event_id
from gateway.web.writer import writer

bp = Blueprint("clearing", __name__)
QUEUE_SIZE = 100  # parcels listed at once; the next ones move up as these are cleared
CACHE_IMAGE = "private, max-age=86400, immutable"  # an image never changes once stored


def selected_shift() -> queue.Shift | None:
    """Return the shift the request filters on (None: every shift), or answer 400."""
    wanted = request.args.get("shift", "")
    if not wanted:
        return None
    state = web()
    for shift in queue.recent_shifts(now_ms(), state.zone, state.cfg.clearing.shifts, 21):
        if shift.label == wanted:
            return shift
    abort(400, "shift: one of the last 21 shifts' start times, as the page lists them")


def reconciler() -> Reconciler | None:
    """Return the site's reconciler (None when reconciliation is off), made once."""
    state = web()
    if "reconciler" not in state.extra:
        cfg = state.cfg
        on = cfg.reconcile.enabled
        state.extra["reconciler"] = Reconciler(cfg, classifier_for(cfg)) if on else None
    return state.extra["reconciler"]


def save(event_id: str, action: str, text: str, note: str, actor: str, replaces: Any) -> Any:
    """Store one correction; return it, or raise CorrectionError."""
    try:
        chosen = CorrectionAction(action)
    except ValueError:
        names = ", ".join(a.value for a in CorrectionAction)
        raise CorrectionError(f"action: one of {names}") from None
    if not is_event_id(event_id):
        raise CorrectionError(f"no parcel {event_id}", 404)
    cfg, conn = web().cfg, writer()
    try:
        return correct(conn, cfg, Request(event_id, chosen, text, note, actor, replaces),
                       classifier_for(cfg), reconciler(), now_ms())  # fmt: skip
    finally:
        conn.close()


@bp.route("/clearing")
def page() -> Any:
    """Show the unresolved unread parcels of a dock and shift, oldest first, one in focus."""
    state, conn = web(), web().db.conn()
    dock, shift = request.args.get("dock", ""), selected_shift()
    items = queue.unresolved(conn, dock, shift, QUEUE_SIZE)
    at = request.args.get("at", "")
    index = next((i for i, item in enumerate(items) if item["event_id"] == at), 0)
    current = items[index] if items else None
    missing_ms = int(state.cfg.clearing.missing_after_s * 1000)
    now = now_ms()
    return render_template(
        "clearing.html",
        items=items,
        current=current,
        index=index,
        states=queue.image_states(current, now, missing_ms) if current else [],
        previous=items[index - 1]["event_id"] if index > 0 else "",
        following=items[index + 1]["event_id"] if index + 1 < len(items) else "",
        docks=queue.docks(conn),
        dock=dock,
        shift=shift.label if shift else "",
        shifts=queue.recent_shifts(now, state.zone, state.cfg.clearing.shifts),
        clerk=session.get("name", ""),
        config_gs=state.cfg.clearing.gs_tokens[0],
        error=request.args.get("error", ""),
        limit=QUEUE_SIZE,
    )


@bp.route("/clearing/<event_id>", methods=["POST"])
@operator_required
def resolve(event_id: str) -> Any:
    """Save the clerk's correction from the form, then show the next parcel of the queue."""
    form = request.form
    clerk = form.get("clerk", "").strip() or session.get("name", "")
    if clerk:
        session["name"] = clerk[:64]
    replaces = int(form["replaces"]) if form.get("replaces", "").isdigit() else None
    keep = {k: form.get(k, "") for k in ("dock", "shift") if form.get(k)}
    try:
        save(event_id, form.get("action", "keyed"), form.get("code", ""), form.get("note", ""),
             clerk or who(), replaces)  # fmt: skip
    except CorrectionError as exc:
        return redirect(url_for("clearing.page", at=event_id, error=str(exc), **keep))
    following = form.get("following", "")
    return redirect(url_for("clearing.page", at=following, **keep) if following else
                    url_for("clearing.page", **keep))  # fmt: skip


@bp.route("/evidence/<event_id>/<int:index>.jpg")
def image(event_id: str, index: int) -> Any:
    """Serve one stored evidence image of a parcel (to logged-in users; ids, not file names)."""
    if not is_event_id(event_id) or not 0 <= index <= 15:
        abort(404)
    conn = web().db.conn()
    found = evidence.image(conn, event_id, index)
    station = conn.execute("SELECT station FROM parcels WHERE event_id = ?", (event_id,)).fetchone()
    if found is None or (station is not None and station[0] != found[0]):
        abort(404, "no such evidence image (not received, deleted by retention, or misrouted)")
    resp = Response(found[1], mimetype="image/jpeg")
    resp.headers["Cache-Control"] = CACHE_IMAGE
    resp.headers["Content-Disposition"] = f'inline; filename="{event_id}-{index}.jpg"'
    return resp


def parcel_clearing(conn: Any, event_id: str, station: str, images: list[str]) -> dict[str, Any]:
    """Return a parcel page's clearing part: its images' states and its corrections."""
    row = conn.execute("SELECT received_ms FROM parcels WHERE event_id = ?", (event_id,)).fetchone()
    item = {"stored": evidence.images_of(conn, [event_id])[event_id], "images": images,
            "received_ms": row[0] if row else now_ms(), "station": station}  # fmt: skip
    missing = int(web().cfg.clearing.missing_after_s * 1000)
    return {
        "states": queue.image_states(item, now_ms(), missing),
        "corrections": corrections_of(conn, event_id),
    }
