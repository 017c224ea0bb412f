"""Verdicts in the store: judge a committed batch's parcels, re-judge after a manifest import."""

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from dockscan.codes import CodeClassifier, tracking_id
from dockscan.config import SiteConfig
from dockscan.events import Outcome, ParcelEvent
from dockscan.ids import iso_ms, utcnow
from gateway.clock import epoch_ms, iso_from_ms
from gateway.reconcile.verdict import Decision, ListedLine, Sighting, decide

JUDGED = (Outcome.OK, Outcome.NO_WEIGHT, Outcome.REPEAT)  # outcomes whose code is trustworthy
PRINTABLE_ID = re.compile(r"^[\x21-\x7e]{3,64}$")
# Codes a station classified as S10 or UPS and printed without spaces or lower case: their
# normalised id is the text itself, so the classifier need not run again for them.
CANONICAL_KINDS = ("upu_s10", "ups_1z")
CANONICAL = re.compile(r"^(?:[A-Z]{2}\d{9}[A-Z]{2}|1Z[0-9A-Z]{16})$")
CHUNK = 500
VERDICT_COLUMNS = (
    "event_id, tracking_id, station, ts_ms, match, weight, manifest_id, declared_kg,"
    " measured_kg, delta_kg, tolerance_kg, hold, first_event_id, revision, decided_ms"
)
INSERT_SQL = (
    f"INSERT INTO verdicts ({VERDICT_COLUMNS}) VALUES ({', '.join('?' * 15)})"
    " ON CONFLICT (event_id) DO NOTHING"
)
UPDATE_SQL = (
    "UPDATE verdicts SET match = ?, weight = ?, manifest_id = ?, declared_kg = ?, delta_kg = ?,"
    " tolerance_kg = ?, first_event_id = ?, revision = revision + 1, decided_ms = ?"
    " WHERE event_id = ?"
)


def any_of(conn: Any, column: str, values: list[str]) -> tuple[str, list[Any]]:
    """Return `column IN (...)` for SQLite or `column = ANY(array)` for PostgreSQL."""
    if conn.dialect == "postgresql":
        return f"{column} = ANY(?::text[])", [values]
    return f"{column} IN ({', '.join('?' * len(values))})", list(values)


def chunks(values: list[str]) -> Iterable[list[str]]:
    """Yield the values in statement-sized pieces."""
    for i in range(0, len(values), CHUNK):
        yield values[i : i + CHUNK]


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

    def sighting(self, event: ParcelEvent) -> Sighting | None:
        """Return what reconciliation needs of an event, or None when it has no usable code."""
        if event.outcome not in JUDGED:
            return None
        code = next((b for b in event.barcodes if b.check_ok is not False), None)
        if code is None:
            return None
        if code.kind in CANONICAL_KINDS and CANONICAL.match(code.text):
            value = code.text  # already the normalised form tracking_id() would give
        else:
            info = tracking_id(code.text, self.classifier)
            if not info.is_parcel_id or not PRINTABLE_ID.match(info.value):
                return None
            value = info.value
        measured = event.weight.value if event.weight and event.weight.stable else None
        return Sighting(event.event_id, value, event.station, epoch_ms(event.ts), measured)

    def judge(self, conn: Any, events: list[ParcelEvent], now: int) -> list[dict[str, Any]]:
        """Decide and insert the verdicts of newly stored events (inside their transaction)."""
        sightings = [s for s in map(self.sighting, events) if s is not None]
        if not sightings or not self.cfg.enabled:
            return []
        ids = sorted({s.tracking_id for s in sightings})
        lines, holds, firsts = listed_lines(conn, ids), held(conn, ids), first_sightings(conn, ids)
        any_open = open_manifests(conn)
        by_id: dict[str, list[Sighting]] = defaultdict(list)
        for s in sightings:
            by_id[s.tracking_id].append(s)
        rows, out, late = [], [], set()
        for s in sightings:
            stored = firsts.get(s.tracking_id)
            others = [(o.ts_ms, o.event_id) for o in by_id[s.tracking_id] if o is not s]
            first = min(others + ([stored] if stored else []), default=None)
            if stored and (s.ts_ms, s.event_id) < stored:
                late.add(s.tracking_id)  # this one came first: the stored one is the repeat
            d = decide(s, lines.get(s.tracking_id, []), first, any_open,
                       holds.get(s.tracking_id), self.cfg, self.division_kg(s.station))  # fmt: skip
            rows.append(_row(s, d, 0, now))
            out.append(_verdict(s, d, 0))
        conn.executemany(INSERT_SQL, rows)
        if late:
            self.rejudge(conn, sorted(late), now)
        return out

    def rejudge(self, conn: Any, ids: list[str], now: int) -> int:
        """Decide again every stored verdict of these ids; queue the changed ones; count them."""
        changed: dict[str, list[dict[str, Any]]] = defaultdict(list)
        any_open = open_manifests(conn)
        for part in chunks(ids):
            where, params = any_of(conn, "tracking_id", part)
            stored = conn.execute(
                f"SELECT {VERDICT_COLUMNS} FROM verdicts WHERE {where}", params
            ).fetchall()
            lines = listed_lines(conn, part)
            by_id: dict[str, list[Any]] = defaultdict(list)
            for row in stored:
                by_id[row[1]].append(row)
            updates = []
            for tid, rows in by_id.items():
                for row in rows:
                    s = Sighting(row[0], tid, row[2], row[3], row[8])
                    first = min(((r[3], r[0]) for r in rows if r[0] != row[0]), default=None)
                    d = decide(s, lines.get(tid, []), first, any_open,
                               row[11], self.cfg, self.division_kg(s.station))  # fmt: skip
                    if _stored_decision(row) != d:
                        updates.append((d.match.value, d.weight.value, d.manifest_id,
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
        """Queue changed verdicts for the lease-holding gateway to publish to integrators."""
        for i in range(0, len(verdicts), 1000):
            payload = verdict_batch_json(self.site, station, self.gateway, verdicts[i : i + 1000])
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


def listed_lines(conn: Any, ids: list[str]) -> dict[str, list[ListedLine]]:
    """Return the open manifests' current lines for these tracking ids."""
    kinds = dict(conn.execute("SELECT id, kind FROM manifests WHERE state = 'open'").fetchall())
    out: dict[str, list[ListedLine]] = defaultdict(list)
    if not kinds:
        return out
    for part in chunks(ids):
        where, params = any_of(conn, "tracking_id", part)
        for tid, manifest_id, declared in conn.execute(
            "SELECT tracking_id, manifest_id, declared_kg FROM manifest_lines"
            f" WHERE {where} AND removed_ms IS NULL",
            params,
        ):
            if manifest_id in kinds:
                out[tid].append(ListedLine(manifest_id, kinds[manifest_id], declared))
    return out


def held(conn: Any, ids: list[str]) -> dict[str, str]:
    """Return the hold reason of each held id among these."""
    out: dict[str, str] = {}
    for part in chunks(ids):
        where, params = any_of(conn, "tracking_id", part)
        out.update(conn.execute(f"SELECT tracking_id, reason FROM holds WHERE {where}", params))
    return out


def first_sightings(conn: Any, ids: list[str]) -> dict[str, tuple[int, str]]:
    """Return the earliest stored sighting (ts, event id) of each id among these."""
    out: dict[str, tuple[int, str]] = {}
    for part in chunks(ids):
        where, params = any_of(conn, "tracking_id", part)
        for tid, event_id, ts in conn.execute(
            f"SELECT tracking_id, event_id, ts_ms FROM verdicts WHERE {where}", params
        ):
            if tid not in out or (ts, event_id) < out[tid]:
                out[tid] = (ts, event_id)
    return out


def open_manifests(conn: Any) -> bool:
    """Return whether any manifest is open (else a parcel is NO_MANIFEST, not UNEXPECTED)."""
    return (
        conn.execute("SELECT 1 FROM manifests WHERE state = 'open' LIMIT 1").fetchone() is not None
    )


def _row(s: Sighting, d: Decision, revision: int, now: int) -> tuple:
    """Return a verdicts row in VERDICT_COLUMNS order."""
    return (
        s.event_id, s.tracking_id, s.station, s.ts_ms, d.match.value, d.weight.value,
        d.manifest_id, d.declared_kg, s.measured_kg, d.delta_kg, d.tolerance_kg, d.hold,
        d.first_event_id, revision, now,
    )  # fmt: skip


def _stored_decision(row: Any) -> Decision:
    """Return the decision a verdicts row holds."""
    from dockscan.hub_events import Match, WeightCheck

    return Decision(
        Match(row[4]), WeightCheck(row[5]), row[6], row[7], row[9], row[10], row[11], row[12]
    )


def _verdict(s: Sighting, d: Decision, revision: int) -> dict[str, Any]:
    """Return a verdict in its wire form (dockscan.hub_events.Verdict, built without pydantic)."""
    return {
        "event_id": s.event_id, "tracking_id": s.tracking_id, "ts": iso_from_ms(s.ts_ms),
        "match": d.match.value, "weight": d.weight.value, "manifest_id": d.manifest_id,
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
