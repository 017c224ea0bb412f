"""Customs holds on tracking ids: set, release, the current list and the history of changes.

A tracking id is normalised as a scan of its label is (`dockscan.codes.tracking_id`), so a hold
set on `RR 123 456 785 CN` stops the parcel whose label scans as `RR123456785CN`. Every change
writes one `hold_history` row (who, when, why, through what); the highest row id is the hold
list's version. A change that leaves the state as it was (the same reason and note again, or a
release of an id not held, from MQTT) writes nothing. An MQTT request is also known by its
sender, action, id and own time (kept as the change's time): one already in the history is
skipped, so a redelivered request, or one every gateway of the site received, writes nothing
even after later changes; one older than the id's last change is skipped as stale (a repeat
that changed nothing left no row to recognise it by). On PostgreSQL every change takes one
advisory lock first: gateways applying the same request at once take turns, and history ids
commit in order, so the version only grows.
"""

import re
import time
from dataclasses import dataclass, replace
from typing import Any

import orjson

from dockscan.codes import CodeClassifier, tracking_id
from dockscan.errors import DockscanError
from dockscan.hub_events import Hold, HoldList, HoldReason, HoldRequest
from dockscan.ids import iso_ms, utcnow
from gateway.clock import epoch_ms, from_ms
from gateway.store import transaction

REASONS = tuple(r.value for r in HoldReason)
SOURCES = ("cli", "api", "mqtt")
PARCEL_ID = re.compile(r"^[\x21-\x7e]{3,64}$")
CHECKED_KINDS = ("upu_s10", "sscc", "ups_1z")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_RAW_ID, MAX_NOTE, MAX_ACTOR = 200, 256, 64
MAX_HOLDS = 100_000  # what one HoldList may carry
LOCK_SQL = f"SELECT pg_advisory_xact_lock({0x686F6C64})"  # 'hold'
HOLD_COLUMNS = "tracking_id, reason, note, actor, set_ms, source"
HISTORY_COLUMNS = "id, tracking_id, action, reason, note, actor, at_ms, source"
HISTORY_SQL = (
    "INSERT INTO hold_history (tracking_id, action, reason, note, actor, at_ms, source)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
UPSERT_SQL = (
    f"INSERT INTO holds ({HOLD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tracking_id)"
    " DO UPDATE SET reason = excluded.reason, note = excluded.note, actor = excluded.actor,"
    " set_ms = excluded.set_ms, source = excluded.source"
)


class HoldError(DockscanError):
    """A hold change that cannot be made: a bad id, reason, note or actor, or an id not held."""


@dataclass(frozen=True)
class Change:
    """One checked change: `set` (with a reason) or `release` of a normalised tracking id."""

    action: str
    tracking_id: str
    reason: str | None
    note: str
    actor: str
    source: str
    at_ms: int | None = None  # an MQTT request's own time: its identity, and the change's time


@dataclass(frozen=True)
class Outcome:
    """What applying a change did; `changed` is False when the state was already so."""

    change: Change
    changed: bool
    at_ms: int
    previous: str | None  # the reason held before (None: it was not held)


def _show(text: str) -> str:
    """Return a value for a message: quoted, and cut to 40 characters."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def normalise(text: str, classifier: CodeClassifier) -> str:
    """Return the tracking id a scan of this label gives, or raise HoldError saying why not."""
    if not text or not text.strip():
        raise HoldError("tracking id is empty")
    if len(text) > MAX_RAW_ID:
        raise HoldError(f"tracking id is longer than {MAX_RAW_ID} characters")
    info = tracking_id(text, classifier)
    if info.kind in CHECKED_KINDS and info.check_ok is False:
        raise HoldError(f"tracking id {_show(text)}: {info.reason}")
    if info.kind == "gs1":
        raise HoldError(f"tracking id {_show(text)}: a GS1 code without an SSCC (AI 00)")
    if not PARCEL_ID.match(info.value):
        raise HoldError(f"tracking id {_show(text)}: not 3-64 printable ASCII characters")
    return info.value


def check_reason(reason: str | None) -> str:
    """Return a valid hold reason, or raise HoldError listing the valid ones."""
    if reason not in REASONS:
        raise HoldError(f"unknown hold reason {_show(str(reason))}: one of {', '.join(REASONS)}")
    return reason  # type: ignore[return-value]


def _text(what: str, value: str, longest: int, empty_ok: bool) -> str:
    """Return a note or actor name stripped, or raise HoldError (too long, control characters)."""
    value = (value or "").strip()
    if not value and not empty_ok:
        raise HoldError(f"{what} is empty: say who makes the change")
    if len(value) > longest:
        raise HoldError(f"{what} is longer than {longest} characters")
    if CONTROL.search(value):
        raise HoldError(f"{what} contains control characters")
    return value


def change(
    action: str,
    text: str,
    reason: str | None,
    note: str,
    actor: str,
    source: str,
    classifier: CodeClassifier,
) -> Change:
    """Check and normalise one change (raise HoldError with the first problem)."""
    if action not in ("set", "release"):
        raise HoldError(f"unknown hold action {_show(action)}: set or release")
    if source not in SOURCES:
        raise HoldError(f"unknown hold source {_show(source)}: one of {', '.join(SOURCES)}")
    return Change(
        action=action,
        tracking_id=normalise(text, classifier),
        reason=check_reason(reason) if action == "set" else None,
        note=_text("note", note, MAX_NOTE, True),
        actor=_text("actor", actor, MAX_ACTOR, False),
        source=source,
    )


def from_request(request: HoldRequest, classifier: CodeClassifier) -> Change:
    """Return the change a `dockscan.hold-request/1` asks for (its sender is the actor)."""
    reason = request.reason.value if request.reason is not None else None
    c = change(request.action, request.tracking_id, reason, request.note, request.sender,
               "mqtt", classifier)  # fmt: skip
    return replace(c, at_ms=epoch_ms(request.ts))


def lock(conn: Any) -> None:
    """Serialise hold changes (PostgreSQL; SQLite's write transaction holds the file)."""
    if conn.dialect == "postgresql":
        conn.execute(LOCK_SQL)


def applied(conn: Any, c: Change) -> bool:
    """Return whether this MQTT request (sender, action, id, its time) is in the history."""
    if c.at_ms is None:
        return False
    row = conn.execute(
        "SELECT 1 FROM hold_history WHERE tracking_id = ? AND at_ms = ? AND action = ?"
        " AND actor = ? AND source = ? LIMIT 1",
        (c.tracking_id, c.at_ms, c.action, c.actor, c.source),
    ).fetchone()
    return row is not None


def stale(conn: Any, c: Change) -> bool:
    """Return whether an MQTT request is older than the id's last change (a late redelivery).

    A request that changed nothing leaves no history row, so the exact-repeat check alone would
    let it undo a later release when some gateway gets it again afterwards.
    """
    if c.at_ms is None:
        return False
    row = conn.execute(
        "SELECT 1 FROM hold_history WHERE tracking_id = ? AND at_ms > ? LIMIT 1",
        (c.tracking_id, c.at_ms),
    ).fetchone()
    return row is not None


def apply(conn: Any, c: Change, now: int, strict: bool = True) -> Outcome:
    """Apply one change inside the caller's transaction (after lock()).

    `strict`: releasing an id that is not held raises HoldError (else it is a no-op).
    """
    at = now if c.at_ms is None else c.at_ms
    row = conn.execute(
        "SELECT reason, note FROM holds WHERE tracking_id = ?", (c.tracking_id,)
    ).fetchone()
    previous = row[0] if row else None
    if applied(conn, c) or stale(conn, c):
        return Outcome(c, False, at, previous)
    if c.action == "release":
        if row is None:
            if strict:
                raise HoldError(f"{c.tracking_id} is not held")
            return Outcome(c, False, at, None)
        conn.execute("DELETE FROM holds WHERE tracking_id = ?", (c.tracking_id,))
    else:
        if row is not None and (row[0], row[1]) == (c.reason, c.note):
            return Outcome(c, False, at, previous)
        if row is None and conn.execute("SELECT count(*) FROM holds").fetchone()[0] >= MAX_HOLDS:
            raise HoldError(f"{MAX_HOLDS} ids are held already: release some first")
        conn.execute(UPSERT_SQL, (c.tracking_id, c.reason, c.note, c.actor, at, c.source))
    reason = c.reason if c.action == "set" else previous
    conn.execute(HISTORY_SQL, (c.tracking_id, c.action, reason, c.note, c.actor, at, c.source))
    return Outcome(c, True, at, previous)


def apply_all(conn: Any, changes: list[Change], now: int) -> list[Outcome | HoldError]:
    """Apply changes in order inside the caller's transaction, not strict (MQTT).

    A change the store refuses (the list is full) is returned as its HoldError, the rest apply.
    """
    lock(conn)
    out: list[Outcome | HoldError] = []
    for c in changes:
        try:
            out.append(apply(conn, c, now, strict=False))
        except HoldError as exc:
            out.append(exc)
    return out


def _one(conn: Any, c: Change, now: int) -> Outcome:
    """Apply one change in its own transaction."""
    with transaction(conn):
        lock(conn)
        return apply(conn, c, now)


def set_hold(
    conn: Any,
    tracking_id: str,
    reason: str,
    note: str,
    actor: str,
    source: str,
    classifier: CodeClassifier,
    now: int,
) -> Outcome:
    """Hold a tracking id (or change the reason and note of a hold) in one transaction."""
    return _one(conn, change("set", tracking_id, reason, note, actor, source, classifier), now)


def release_hold(
    conn: Any,
    tracking_id: str,
    actor: str,
    source: str,
    classifier: CodeClassifier,
    now: int,
    note: str = "",
) -> Outcome:
    """Release a held tracking id in one transaction (HoldError if it is not held)."""
    return _one(conn, change("release", tracking_id, None, note, actor, source, classifier), now)


def current_holds(conn: Any) -> list[dict[str, Any]]:
    """Return every current hold, by tracking id."""
    names = HOLD_COLUMNS.split(", ")
    rows = conn.execute(f"SELECT {HOLD_COLUMNS} FROM holds ORDER BY tracking_id").fetchall()
    return [dict(zip(names, row, strict=True)) for row in rows]


def hold_history(conn: Any, tracking_id: str | None = None, limit: int = 100) -> list[dict]:
    """Return the latest changes first (of one normalised id when given), at most `limit`."""
    where, params = ("WHERE tracking_id = ? ", [tracking_id]) if tracking_id else ("", [])
    rows = conn.execute(
        f"SELECT {HISTORY_COLUMNS} FROM hold_history {where}ORDER BY id DESC LIMIT ?",
        [*params, int(limit)],
    ).fetchall()
    return [dict(zip(HISTORY_COLUMNS.split(", "), row, strict=True)) for row in rows]


def holds_version(conn: Any) -> int:
    """Return the hold list's version: the newest history row's id (0 before any change)."""
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM hold_history").fetchone()[0])


def snapshot(conn: Any) -> tuple[int, list[dict[str, Any]]]:
    """Return (version, holds) read consistently: again if a change committed in between."""
    while True:
        version = holds_version(conn)
        holds = current_holds(conn)
        if holds_version(conn) == version:
            return version, holds


def hold_list(site: str, version: int, holds: list[dict[str, Any]]) -> HoldList:
    """Return the retained list the stations get."""
    items = [
        Hold(
            tracking_id=h["tracking_id"],
            reason=HoldReason(h["reason"]),
            note=h["note"],
            since=from_ms(h["set_ms"]),
        )
        for h in holds
    ]
    return HoldList(site=site, version=version, ts=utcnow(), holds=items)  # type: ignore[call-arg]


def hold_list_json(site: str, version: int, holds: list[dict[str, Any]]) -> bytes:
    """Return the retained list's wire form, as hold_list(...).to_json() gives it, but fast.

    The gateway builds it on its ingest thread after every change: for 100,000 holds the
    model takes seconds, this a fraction of one (tests check both give the same bytes).
    """
    return orjson.dumps({
        "schema": "dockscan.holds/1", "site": site, "version": version, "ts": iso_ms(utcnow()),
        "holds": [
            {"tracking_id": h["tracking_id"], "reason": h["reason"], "note": h["note"],
             "since": _iso_ms(h["set_ms"])}
            for h in holds
        ],
    })  # fmt: skip


def _iso_ms(ms: int) -> str:
    """Return epoch ms as dockscan.ids.iso_ms writes it (in a third of its time)."""
    seconds, rest = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest:03d}Z"
