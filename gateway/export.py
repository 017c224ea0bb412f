"""Export stored parcel events for a time range as CSV or JSON lines.

JSON lines are the events exactly as the stations sent them. The CSV adds the clearing desk's
correction in force (action, code keyed, its tracking id, who, when) and neutralises text that a
spreadsheet would run as a formula.
"""

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TextIO

import orjson

from dockscan.errors import DockscanError
from dockscan.ids import iso_ms
from gateway.clock import epoch_ms, from_ms
from gateway.db import Connection

FORMATS = ("csv", "jsonl")
CSV_COLUMNS = (
    "event_id", "site", "dock", "station", "seq", "ts", "outcome", "barcode", "codes",
    "weight_kg", "flags", "received", "committed", "correction", "corrected_code",
    "corrected_tracking_id", "corrected_by", "corrected_at",
)  # fmt: skip
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell


class ExportError(DockscanError):
    """An export was asked for with bad arguments."""

    exit_code = 2


def parse_time(text: str) -> int:
    """Parse an ISO 8601 time or date (UTC unless it has an offset) into epoch ms."""
    try:
        ts = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ExportError(f"not an ISO 8601 time: {text!r} (e.g. 2026-11-27T08:00Z)") from None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return epoch_ms(ts)


def _rows(conn: Connection, since_ms: int, until_ms: int, station: str | None) -> Iterator[tuple]:
    """Yield parcel rows captured in [since, until), oldest first, with their correction."""
    where, args = "p.ts_ms >= ? AND p.ts_ms < ?", [since_ms, until_ms]
    if station:
        where += " AND p.station = ?"
        args.append(station)
    run = getattr(conn, "iterate", conn.execute)  # iterate: a server-side cursor on PostgreSQL
    yield from run(
        "SELECT p.event_id, p.site, p.dock, p.station, p.seq, p.ts_ms, p.outcome, p.barcode,"
        " p.weight_kg, p.flags, p.received_ms, p.committed_ms, c.action, c.code, c.tracking_id,"
        " c.actor, c.created_ms, p.payload FROM parcels p LEFT JOIN corrections c ON c.id ="
        " (SELECT max(id) FROM corrections WHERE event_id = p.event_id)"
        f" WHERE {where} ORDER BY p.ts_ms, p.event_id",
        args,
    )


def cell(value: object) -> object:
    """Neutralise spreadsheet formulas in untrusted text cells (a leading quote)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def export(
    conn: Connection,
    out: TextIO,
    fmt: str,
    since_ms: int,
    until_ms: int,
    station: str | None = None,
) -> int:
    """Write the parcels captured in [since, until) to `out`; return how many."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if until_ms <= since_ms:
        raise ExportError("--until must be after --since")
    count = 0
    writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
    if writer:
        writer.writerow(CSV_COLUMNS)
    for row in _rows(conn, since_ms, until_ms, station):
        payload = row[-1]
        count += 1
        if writer is None:
            # The event as the station sent it, re-serialised so it is always one line.
            out.write(
                payload if "\n" not in payload else orjson.dumps(orjson.loads(payload)).decode()
            )
            out.write("\n")
            continue
        event_id, site, dock, st, seq, ts, outcome, barcode, weight, flags, rx, cm = row[:12]
        action, code, tracking, actor, corrected_ms = row[12:17]
        codes = [c["text"] for c in orjson.loads(payload).get("barcodes", [])]
        writer.writerow(cell(v) for v in (
            event_id, site, dock, st, seq, iso_ms(from_ms(ts)), outcome, barcode or "",
            orjson.dumps(codes).decode(), "" if weight is None else repr(weight), flags,
            iso_ms(from_ms(rx)), iso_ms(from_ms(cm)), action or "", code or "", tracking or "",
            actor or "", iso_ms(from_ms(corrected_ms)) if corrected_ms else "",
        ))  # fmt: skip
    return count
