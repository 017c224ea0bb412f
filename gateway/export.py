"""Export stored parcel events for a time range as CSV or JSON lines."""

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
    "weight_kg", "flags", "received", "committed",
)  # fmt: skip


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
    """Yield parcel rows captured in [since, until), oldest first."""
    where, args = "ts_ms >= ? AND ts_ms < ?", [since_ms, until_ms]
    if station:
        where += " AND station = ?"
        args.append(station)
    run = getattr(conn, "iterate", conn.execute)  # iterate: a server-side cursor on PostgreSQL
    yield from run(
        "SELECT event_id, site, dock, station, seq, ts_ms, outcome, barcode, weight_kg, flags,"
        f" received_ms, committed_ms, payload FROM parcels WHERE {where}"
        " ORDER BY ts_ms, event_id",
        args,
    )


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
        event_id, site, dock, st, seq, ts, outcome, barcode, weight, flags, rx, cm = row[:-1]
        codes = [c["text"] for c in orjson.loads(payload).get("barcodes", [])]
        writer.writerow(
            (event_id, site, dock, st, seq, iso_ms(from_ms(ts)), outcome, barcode or "",
             orjson.dumps(codes).decode(), "" if weight is None else repr(weight), flags,
             iso_ms(from_ms(rx)), iso_ms(from_ms(cm)))
        )  # fmt: skip
    return count
