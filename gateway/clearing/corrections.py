"""Corrections: a clerk's resolution of an unread parcel, stored beside it, never over it.

One transaction writes the correction, decides the parcel's verdict from the keyed code (as
reconciliation decides a scanned one, so the manifest line counts as seen) and queues both the
`dockscan.correction/1` message and any verdicts that changed for the lease holder to publish.
A later correction of the same parcel supersedes the earlier one, which stays as its history.
The form or API call says which correction it expects to replace (none for an unresolved
parcel): when another clerk got there first, the request is refused instead of silently
overwriting theirs.
"""

from dataclasses import dataclass
from typing import Any

from dockscan.codes import CodeClassifier
from dockscan.config import SiteConfig
from dockscan.correction_events import (
    CLEARED_OUTCOMES,
    Correction,
    CorrectionAction,
    KeyedCode,
)
from dockscan.errors import DockscanError
from dockscan.events import Barcode, Outcome, ParcelEvent
from gateway.clearing import backlog
from gateway.clearing.keyed import check_keyed
from gateway.clock import from_ms
from gateway.reconcile.matcher import Reconciler, lock
from gateway.store import transaction

LOCK_SQL = f"SELECT pg_advisory_xact_lock({0x636F7272})"  # 'corr'
COLUMNS = (
    "id, event_id, station, action, code, kind, check_ok, tracking_id, original_outcome, note,"
    " actor, created_ms, supersedes"
)
NAMES = COLUMNS.split(", ")
INSERT_SQL = (
    "INSERT INTO corrections (event_id, station, action, code, kind, check_ok, tracking_id,"
    " original_outcome, note, actor, created_ms, supersedes)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
MAX_NOTE, MAX_ACTOR = 256, 64
UNSET = -1  # "replace whatever is current" (CLI and API callers that do not care)


class CorrectionError(DockscanError):
    """A correction that cannot be made; `status` is the HTTP status the API answers."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Request:
    """What a clerk asks: the parcel, what was done, the code keyed, a note and who."""

    event_id: str
    action: CorrectionAction
    text: str = ""
    note: str = ""
    actor: str = "operator"
    replaces: int | None = UNSET  # the correction expected in force (None: unresolved)


def check_request(req: Request, tokens: list[str], classifier: CodeClassifier) -> KeyedCode | None:
    """Return the checked keyed code (None for the other actions) or raise CorrectionError."""
    if len(req.note) > MAX_NOTE or not req.note.isprintable():
        raise CorrectionError(f"a note is at most {MAX_NOTE} printable characters")
    actor = req.actor.strip()
    if not actor or len(actor) > MAX_ACTOR or not actor.isprintable():
        raise CorrectionError(f"say who you are: 1-{MAX_ACTOR} printable characters")
    if req.action is not CorrectionAction.KEYED:
        if req.text.strip():
            raise CorrectionError(f"{req.action.value} carries no code: key it as a correction")
        return None
    try:
        return check_keyed(req.text, tokens, classifier)
    except DockscanError as exc:
        raise CorrectionError(str(exc)) from None


def correct(
    conn: Any,
    cfg: SiteConfig,
    req: Request,
    classifier: CodeClassifier,
    reconciler: Reconciler | None,
    now: int,
) -> Correction:
    """Store a correction with its verdict and queue both for integrators, in one transaction."""
    code = check_request(req, cfg.clearing.gs_tokens, classifier)
    with transaction(conn):
        if conn.dialect == "postgresql":
            conn.execute(LOCK_SQL)
            lock(conn)  # after any reconciler's verdicts, before the next one's
        parcel = _parcel(conn, req.event_id)
        current = current_correction(conn, req.event_id)
        if req.replaces != UNSET and req.replaces != current:
            raise CorrectionError(_conflict(conn, current), 409)
        row = (
            req.event_id, parcel["station"], req.action.value, code.text if code else None,
            code.kind if code else None, _flag(code.check_ok) if code else None,
            code.tracking_id if code else None, parcel["outcome"], req.note,
            req.actor.strip(), now, current,
        )  # fmt: skip
        correction_id = conn.execute(INSERT_SQL, row).fetchone()[0]
        backlog.close(conn, req.event_id)
        message = Correction(
            correction_id=correction_id, site=parcel["site"], station=parcel["station"],
            dock=parcel["dock"], event_id=req.event_id, parcel_ts=from_ms(parcel["ts_ms"]),
            original_outcome=parcel["outcome"], original_codes=parcel["codes"],
            action=req.action, code=code, supersedes=current, note=req.note,
            by=req.actor.strip(), ts=from_ms(now),
        )  # fmt: skip
        conn.execute(
            "INSERT INTO outbound (kind, station, payload, created_ms) VALUES (?, ?, ?, ?)",
            ("correction", parcel["station"], message.to_json().decode(), now),
        )
        if reconciler is not None:  # queued after the correction: integrators get it first
            _decide_verdict(conn, reconciler, parcel, code, now)
    return message


def current_correction(conn: Any, event_id: str) -> int | None:
    """Return the id of the correction in force for a parcel, or None."""
    row = conn.execute("SELECT max(id) FROM corrections WHERE event_id = ?", (event_id,)).fetchone()
    return row[0] if row else None


def corrections_of(conn: Any, event_id: str) -> list[dict[str, Any]]:
    """Return a parcel's corrections, the one in force first."""
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM corrections WHERE event_id = ? ORDER BY id DESC", (event_id,)
    ).fetchall()
    return [dict(zip(NAMES, r, strict=True)) for r in rows]


def corrections_since(conn: Any, since_ms: int, limit: int) -> list[dict[str, Any]]:
    """Return the corrections made since a time, oldest first, at most `limit`."""
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM corrections WHERE created_ms >= ? ORDER BY id LIMIT ?",
        (since_ms, int(limit)),
    ).fetchall()
    return [dict(zip(NAMES, r, strict=True)) for r in rows]


def _parcel(conn: Any, event_id: str) -> dict[str, Any]:
    """Return what a correction needs of its parcel, or raise CorrectionError."""
    row = conn.execute(
        "SELECT site, station, dock, outcome, ts_ms, payload FROM parcels WHERE event_id = ?",
        (event_id,),
    ).fetchone()
    if row is None:
        raise CorrectionError(f"no parcel {event_id}", 404)
    site, station, dock, outcome, ts_ms, payload = row
    if outcome not in CLEARED_OUTCOMES:
        wanted = ", ".join(o.value for o in CLEARED_OUTCOMES)
        raise CorrectionError(f"the parcel was read ({outcome}); only {wanted} are cleared", 409)
    event = ParcelEvent.model_validate_json(payload)
    return {
        "site": site, "station": station, "dock": dock, "outcome": outcome, "ts_ms": ts_ms,
        "codes": [b.text[:256] for b in event.barcodes], "event": event,
    }  # fmt: skip


def _decide_verdict(
    conn: Any, reconciler: Reconciler, parcel: dict[str, Any], code: KeyedCode | None, now: int
) -> None:
    """Replace the parcel's verdict with one for the keyed code (none for the other actions)."""
    event: ParcelEvent = parcel["event"]
    old = conn.execute(
        "SELECT tracking_id, revision FROM verdicts WHERE event_id = ?", (event.event_id,)
    ).fetchone()
    if old is not None:
        conn.execute("DELETE FROM verdicts WHERE event_id = ?", (event.event_id,))
    verdicts: list[dict[str, Any]] = []
    if code is not None:
        keyed = Barcode(text=code.text, symbology="keyed", source="clearing-desk",
                        kind=code.kind, check_ok=code.check_ok)  # fmt: skip
        as_read = event.model_copy(update={"outcome": Outcome.OK, "barcodes": [keyed]})
        sighting = reconciler.sighting(as_read, parcel["ts_ms"])
        if sighting is not None:
            judged = reconciler.plan(conn, [sighting], now)
            reconciler.record(conn, judged, now)
            verdicts = judged.verdicts
        if old is not None and verdicts:
            revision = old[1] + 1
            conn.execute(
                "UPDATE verdicts SET revision = ? WHERE event_id = ?", (revision, event.event_id)
            )
            verdicts = [{**v, "revision": revision} for v in verdicts]
    if verdicts:
        reconciler.queue(conn, parcel["station"], verdicts, now)
    others = {old[0] if old else None, code.tracking_id if code else None} - {None}
    if others:  # the first sighting of either id may have changed: DUPLICATE verdicts follow
        reconciler.rejudge(conn, sorted(others), now)  # type: ignore[arg-type]


def _conflict(conn: Any, current: int | None) -> str:
    """Return why a correction was refused: another one came first."""
    if current is None:
        return "the correction you replace was withdrawn; reload the parcel"
    row = conn.execute(
        "SELECT actor, action, created_ms FROM corrections WHERE id = ?", (current,)
    ).fetchone()
    when = from_ms(row[2]).strftime("%H:%M:%S UTC")
    return f"already resolved by {row[0]} ({row[1]}) at {when}: reload the parcel first"


def _flag(value: bool | None) -> int | None:
    """Return a check result as the store keeps it (1, 0 or NULL)."""
    return None if value is None else int(value)
