"""Verdicts in the store: judge queued parcels, re-judge stored ones after a manifest import."""

import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson

from dockscan.codes import CodeClassifier, tracking_id
from dockscan.config import SiteConfig
from dockscan.events import Outcome, ParcelEvent
from dockscan.ids import iso_ms, utcnow
from gateway.clock import epoch_ms, iso_from_ms, now_ms
from gateway.reconcile import queue
from gateway.reconcile.lookups import (
    any_of,
    chunks,
    first_sightings,
    held,
    inputs,
    listed_lines,
    missing_parcels,
    open_kinds,
)
from gateway.reconcile.verdict import Decision, ListedLine, Sighting, decide

JUDGED = (Outcome.OK, Outcome.NO_WEIGHT, Outcome.REPEAT)  # outcomes whose code is trustworthy
PRINTABLE_ID = re.compile(r"^[\x21-\x7e]{3,64}$")
# Codes a station classified as S10 or UPS and printed without spaces or lower case: their
# normalised id is the text itself, so the classifier need not run again for them.
CANONICAL_KINDS = ("upu_s10", "ups_1z")
CANONICAL = re.compile(r"^(?:[A-Z]{2}\d{9}[A-Z]{2}|1Z[0-9A-Z]{16})$")
# Queued parcels judged per transaction (whole queue rows, so more when one row holds more),
# and verdicts per message at most.
DRAIN_LIMIT = 1000
RECONCILE_LOCK = 0x7665726469  # pg_advisory_xact_lock key: one judging transaction at a time
NO_LINES: list[ListedLine] = []
VERDICT_COLUMNS = (
    "event_id, tracking_id, station, ts_ms, match, weight, manifest_id, declared_kg,"
    " measured_kg, delta_kg, tolerance_kg, hold, first_event_id, revision, decided_ms"
)
# A verdict is stored only while its parcel is: retention may delete a parcel whose sighting
# still waits in the queue (the reconciler stopped for days).
INSERT_SQL = (
    f"INSERT INTO verdicts ({VERDICT_COLUMNS}) SELECT {', '.join('?' * 15)}"
    " WHERE EXISTS (SELECT 1 FROM parcels WHERE event_id = ?1) ON CONFLICT (event_id) DO NOTHING"
)
# PostgreSQL: one statement per batch over arrays sent in binary, as the parcels are (a
# pipelined executemany costs the server a statement per verdict).
PG_INSERT_SQL = (
    f"INSERT INTO verdicts ({VERDICT_COLUMNS}) SELECT u.* FROM unnest(%b::text[], %b::text[],"
    " %b::text[], %b::bigint[], %b::text[], %b::text[], %b::text[], %b::float8[], %b::float8[],"
    " %b::float8[], %b::float8[], %b::text[], %b::text[], %b::bigint[], %b::bigint[])"
    f" AS u({VERDICT_COLUMNS})"
    " WHERE EXISTS (SELECT 1 FROM parcels p WHERE p.event_id = u.event_id)"
    " ON CONFLICT (event_id) DO NOTHING"
)
UPDATE_SQL = (
    "UPDATE verdicts SET match = ?, weight = ?, manifest_id = ?, declared_kg = ?, delta_kg = ?,"
    " tolerance_kg = ?, first_event_id = ?, revision = revision + 1, decided_ms = ?"
    " WHERE event_id = ?"
)


class Judged(NamedTuple):
    """Verdicts decided but not stored yet: their rows, wire forms, and ids seen too late."""

    rows: list[tuple]
    verdicts: list[dict[str, Any]]
    late: set[str]  # ids whose stored sighting turned out not to be the first


class QueueRace(Exception):
    """Queue rows vanished while judged (someone else judged them): roll back, try again."""


class Reconciler:
    """Decides and stores verdicts with the site's tolerance, scales and code patterns."""

    def __init__(self, cfg: SiteConfig, classifier: CodeClassifier) -> None:
        self.cfg = cfg.reconcile
        self.gateway, self.site = cfg.gateway.id, cfg.site.id
        self.classifier = classifier
        self.division = {
            st.id: next((d.division_kg for d in st.devices if d.kind == "scale"), None)
            for st in cfg.stations
        }

    def division_kg(self, station: str) -> float:
        """Return the division e of a station's scale (the site default when unknown)."""
        return self.division.get(station) or self.cfg.default_division_kg

    def sighting(self, event: ParcelEvent, ts_ms: int | None = None) -> Sighting | None:
        """Return what reconciliation needs of an event, or None when it has no usable code."""
        if event.outcome not in JUDGED:
            return None
        for code in event.barcodes:  # the first whose check did not fail
            if code.check_ok is not False:
                break
        else:
            return None
        if code.kind in CANONICAL_KINDS and CANONICAL.match(code.text):
            value = code.text  # already the normalised form tracking_id() would give
        else:
            info = tracking_id(code.text, self.classifier)
            if not info.is_parcel_id or not PRINTABLE_ID.match(info.value):
                return None
            value = info.value
        weight = event.weight
        measured = weight.value if weight is not None and weight.stable else None
        ts = epoch_ms(event.ts) if ts_ms is None else ts_ms
        return Sighting(event.event_id, value, event.station, ts, measured)

    def drain(self, conn: Any, now: int, limit: int = DRAIN_LIMIT) -> dict[str, list[dict]]:
        """Judge up to `limit` queued parcels inside the caller's transaction.

        Return the new verdicts (wire form) by station. On PostgreSQL an advisory lock makes
        the reconcilers of several gateways, and manifest imports, take turns.
        """
        lock(conn)
        if conn.dialect == "postgresql":
            # Every statement here is a lookup by key. Statistics taken while the verdicts and
            # the queue were small (a new store: autovacuum analyses a minute later at best)
            # would have them scanned whole, once per transaction, as they grow. No JIT: the
            # penalty on the few scans left (the open manifests) would have them compiled.
            conn.execute(
                "SELECT set_config('enable_seqscan', 'off', true), set_config('jit', 'off', true)"
            )
        ids, sightings = queue.take(conn, limit)
        if not ids:
            return {}
        judged = self.plan(conn, sightings, now)
        gone = self.record(conn, judged, now)
        _remove(conn, ids)
        return by_station(sightings, judged.verdicts, gone)

    def drain_ahead(self, conn: Any, limit: int = DRAIN_LIMIT) -> dict[str, list[dict]]:
        """SQLite: judge up to `limit` queued parcels, holding the writer lock only to store them.

        The verdicts are decided from a read snapshot while the ingest keeps writing; then,
        under the lock, they are stored if the inputs of a decision (open manifests and their
        imports, holds, verdicts) are still as read, else the queue is read and decided again.
        """
        conn.execute("BEGIN")  # a read snapshot: no writer lock
        try:
            before = inputs(conn)
            ids, sightings = queue.take(conn, limit)
            now = now_ms()
            judged = self.plan(conn, sightings, now) if ids else None
        finally:
            conn.execute("COMMIT")
        if judged is None:
            return {}
        conn.execute("BEGIN IMMEDIATE")
        try:
            if inputs(conn) != before:  # read the queue again too: another may have judged it
                ids, sightings = queue.take(conn, limit)
                judged = self.plan(conn, sightings, now)
            gone = self.record(conn, judged, now)
            _remove(conn, ids)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return by_station(sightings, judged.verdicts, gone)

    def plan(self, conn: Any, sightings: list[Sighting], now: int) -> "Judged":
        """Decide the verdicts of these sightings from what the store holds (reads only)."""
        if not sightings:
            return Judged([], [], set())
        ids = sorted({s.tracking_id for s in sightings})
        kinds = open_kinds(conn)
        lines, holds = listed_lines(conn, ids, kinds), held(conn, ids)
        firsts = first_sightings(conn, ids)
        any_open, cfg, division = bool(kinds), self.cfg, self.division_kg
        repeats = _repeats(sightings) if len(ids) < len(sightings) else {}
        out = Judged([], [], set())
        for s in sightings:
            tid = s.tracking_id
            stored = firsts.get(tid)
            first = stored
            if tid in repeats:  # seen more than once in this batch
                others = [(o.ts_ms, o.event_id) for o in repeats[tid] if o is not s]
                first = min(others + ([stored] if stored else []))
            if stored and (s.ts_ms, s.event_id) < stored:
                out.late.add(tid)  # this one came first: the stored one is the repeat
            d = decide(s, lines.get(tid, NO_LINES), first, any_open, holds.get(tid), cfg,
                       division(s.station))  # fmt: skip
            out.rows.append((*s[:4], d.match, d.weight, d.manifest_id, d.declared_kg,
                             s.measured_kg, d.delta_kg, d.tolerance_kg, d.hold,
                             d.first_event_id, 0, now))  # fmt: skip
            out.verdicts.append(_verdict(s, d, 0))
        return out

    def record(self, conn: Any, judged: "Judged", now: int) -> set[str]:
        """Insert decided verdicts, decide again the stored ones they came before; return the
        event ids whose parcels are gone (retention took them while they were queued)."""
        if judged.rows and conn.dialect == "postgresql":
            columns = [list(col) for col in zip(*judged.rows, strict=True)]
            stored = conn.execute(PG_INSERT_SQL, columns).rowcount
        elif judged.rows:
            stored = conn.executemany(INSERT_SQL, judged.rows).rowcount
        else:
            stored = 0
        if judged.late:
            self.rejudge(conn, sorted(judged.late), now)
        if stored == len(judged.rows):
            return set()
        # Some were not inserted: judged before (stored already) or their parcel is gone.
        return set(missing_parcels(conn, [row[0] for row in judged.rows]))

    def rejudge(self, conn: Any, ids: list[str], now: int) -> int:
        """Decide again every stored verdict of these ids; queue the changed ones; count them."""
        changed: dict[str, list[dict[str, Any]]] = defaultdict(list)
        kinds = open_kinds(conn)
        for part in chunks(ids):
            where, params = any_of(conn, "tracking_id", part)
            stored = conn.execute(
                f"SELECT {VERDICT_COLUMNS} FROM verdicts WHERE {where}", params
            ).fetchall()
            lines = listed_lines(conn, part, kinds)
            by_id: dict[str, list[Any]] = defaultdict(list)
            for row in stored:
                by_id[row[1]].append(row)
            updates = []
            for tid, rows in by_id.items():
                for row in rows:
                    s = Sighting(row[0], tid, row[2], row[3], row[8])
                    first = min(((r[3], r[0]) for r in rows if r[0] != row[0]), default=None)
                    d = decide(s, lines.get(tid, NO_LINES), first, bool(kinds),
                               row[11], self.cfg, self.division_kg(s.station))  # fmt: skip
                    if _stored_decision(row) != d:
                        updates.append((d.match, d.weight, d.manifest_id,
                                        d.declared_kg, d.delta_kg, d.tolerance_kg,
                                        d.first_event_id, now, row[0]))  # fmt: skip
                        changed[s.station].append(_verdict(s, d, row[13] + 1))
            if updates:
                conn.executemany(UPDATE_SQL, updates)
        for station, verdicts in sorted(changed.items()):
            self.queue(conn, station, verdicts, now)
        return sum(len(v) for v in changed.values())

    def rejudge_manifest(self, conn: Any, manifest_id: str, now: int) -> int:
        """Decide again the verdicts of every id a manifest lists or listed; count changes."""
        lock(conn)  # PostgreSQL: after any reconciler's verdicts, before the next one's
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT v.tracking_id FROM verdicts v JOIN manifest_lines l"
                " ON l.tracking_id = v.tracking_id WHERE l.manifest_id = ?",
                (manifest_id,),
            ).fetchall()
        ]
        return self.rejudge(conn, sorted(ids), now) if ids else 0

    def queue(self, conn: Any, station: str, verdicts: list[dict[str, Any]], now: int) -> None:
        """Queue verdicts for the lease-holding gateway to publish to the station."""
        for i in range(0, len(verdicts), DRAIN_LIMIT):
            part = verdicts[i : i + DRAIN_LIMIT]
            payload = verdict_batch_json(self.site, station, self.gateway, part)
            conn.execute(
                "INSERT INTO outbound (kind, station, payload, created_ms) VALUES (?, ?, ?, ?)",
                ("verdict", station, payload.decode(), now),
            )


def rejudger(cfg: SiteConfig, classifier: CodeClassifier) -> Callable[[Any, str, int], int] | None:
    """Return what re-decides a manifest's verdicts after an import, or None when off."""
    return Reconciler(cfg, classifier).rejudge_manifest if cfg.reconcile.enabled else None


def stored_verdicts(conn: Any, event_ids: list[str]) -> list[dict[str, Any]]:
    """Return the stored verdicts of these events (for re-sent events acknowledged again)."""
    out = []
    for part in chunks(event_ids):
        where, params = any_of(conn, "event_id", part)
        for row in conn.execute(f"SELECT {VERDICT_COLUMNS} FROM verdicts WHERE {where}", params):
            s = Sighting(row[0], row[1], row[2], row[3], row[8])
            out.append(_verdict(s, _stored_decision(row), row[13]))
    return out


def by_station(
    sightings: list[Sighting], verdicts: list[dict], gone: set[str]
) -> dict[str, list[dict]]:
    """Group verdicts (in the sightings' order) by station, leaving out the parcels gone."""
    out: dict[str, list[dict]] = defaultdict(list)
    for s, verdict in zip(sightings, verdicts, strict=True):
        if s.event_id not in gone:
            out[s.station].append(verdict)
    return out


def _remove(conn: Any, ids: list[int]) -> None:
    """Delete judged queue rows; raise QueueRace when some were gone (judged elsewhere)."""
    if queue.remove(conn, ids) != len(ids):
        raise QueueRace(f"{len(ids)} verdict queue rows changed while being judged")


def lock(conn: Any) -> None:
    """PostgreSQL: take the reconciliation lock until the transaction ends (SQLite: its writer)."""
    if conn.dialect == "postgresql":
        conn.execute(f"SELECT pg_advisory_xact_lock({RECONCILE_LOCK})")


def _repeats(sightings: list[Sighting]) -> dict[str, list[Sighting]]:
    """Return the sightings of each tracking id that occurs more than once among these."""
    by_id: dict[str, list[Sighting]] = defaultdict(list)
    for s in sightings:
        by_id[s.tracking_id].append(s)
    return {tid: group for tid, group in by_id.items() if len(group) > 1}


def _stored_decision(row: Any) -> Decision:
    """Return the decision a verdicts row holds."""
    return Decision(row[4], row[5], row[6], row[7], row[9], row[10], row[11], row[12])


def _verdict(s: Sighting, d: Decision, revision: int) -> dict[str, Any]:
    """Return a verdict in its wire form (dockscan.hub_events.Verdict, built without pydantic)."""
    return {
        "event_id": s.event_id, "tracking_id": s.tracking_id, "ts": iso_from_ms(s.ts_ms),
        "match": d.match, "weight": d.weight, "manifest_id": d.manifest_id,
        "declared_kg": d.declared_kg, "measured_kg": s.measured_kg, "delta_kg": d.delta_kg,
        "tolerance_kg": d.tolerance_kg, "hold": d.hold, "first_event_id": d.first_event_id,
        "revision": revision,
    }  # fmt: skip


def verdict_batch_json(site: str, station: str, gateway: str, verdicts: list[dict]) -> bytes:
    """Return a dockscan.verdict/1 payload (its shape is checked against VerdictBatch in tests)."""
    return orjson.dumps({
        "schema": "dockscan.verdict/1", "site": site, "station": station, "gateway": gateway,
        "ts": iso_ms(utcnow()), "verdicts": verdicts,
    })  # fmt: skip
