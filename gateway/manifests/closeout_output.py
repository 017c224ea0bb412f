"""A close-out report as CSV, as JSON for the API, and as the dockscan.closeout/1 event."""

import csv
import functools
import io
from collections.abc import Iterator
from typing import Any

from dockscan.hub_events import MAX_CLOSEOUT_IDS, Closeout
from dockscan.ids import iso_ms
from gateway.clock import from_ms
from gateway.manifests.closeout_model import CloseoutError, LineStatus, Report, Sighting

CSV_COLUMNS = (
    "status", "tracking_id", "line_no", "hawb", "bag", "declared_kg", "description",
    "sightings", "station", "seen_at", "event_id", "weight", "measured_kg", "delta_kg", "hold",
    "last_seen_station", "last_seen_at", "last_seen_via",
)  # fmt: skip
# Text a spreadsheet would run as a formula gets a leading ' (as gateway/web/parcels.py does).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_CHUNK_ROWS = 1000  # rows per piece of the download
NO_SIGHTING = (None,) * 6


def closeout_event(report: Report, site: str) -> Closeout:
    """Return the dockscan.closeout/1 event of a closed manifest's report."""
    if report.closed_ms is None or report.closed_by is None:
        raise CloseoutError(f"manifest {report.manifest_id!r} is not closed")
    missing = report.missing
    return Closeout(
        site=site, manifest_id=report.manifest_id, kind=report.kind, reference=report.reference,
        closed=from_ms(report.closed_ms), closed_by=report.closed_by, expected=report.expected,
        seen=report.seen, missing=len(missing), unexpected=len(report.unexpected),
        weight_over=len(report.weight_over), weight_under=len(report.weight_under),
        holds_seen=len(report.holds),
        missing_ids=[li.tracking_id for li in missing[:MAX_CLOSEOUT_IDS]],
        missing_truncated=len(missing) > MAX_CLOSEOUT_IDS, report_path=report.report_path,
    )  # fmt: skip


def _iso(ms: int | None) -> str | None:
    """Format epoch ms as ISO 8601 UTC with milliseconds, or None."""
    return None if ms is None else f"{_second(ms // 1000)}.{ms % 1000:03d}Z"


@functools.lru_cache(maxsize=4096)
def _second(s: int) -> str:
    """Format epoch seconds as YYYY-MM-DDTHH:MM:SS (parcels come many a second: cached)."""
    return iso_ms(from_ms(s * 1000))[:19]


def csv_cell(value: Any) -> Any:
    """Neutralise a spreadsheet formula in a text cell (carrier files and scans are untrusted)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def report_csv(report: Report) -> Iterator[str]:
    """Yield the report as CSV text: every expected line (seen or missing), then unexpected."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for n, row in enumerate(_csv_rows(report), 1):
        writer.writerow(row)
        if n % CSV_CHUNK_ROWS == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _csv_rows(report: Report) -> Iterator[tuple[Any, ...]]:
    """Yield the CSV rows; text that came from files or stations goes through csv_cell."""
    cell = csv_cell
    for li in report.lines:
        s, last = li.first, li.last_seen
        yield (
            li.status, cell(li.tracking_id), li.line_no, cell(li.hawb), cell(li.bag),
            li.declared_kg, cell(li.description), li.sightings, *_seen_cells(s),
            s.hold if s else None, cell(last.station) if last else None,
            _iso(last.ts_ms) if last else None, cell(last.via) if last else None,
        )  # fmt: skip
    for s in report.unexpected:
        yield ("unexpected", cell(s.tracking_id), None, None, None, None, None, 1,
               *_seen_cells(s), s.hold, None, None, None)  # fmt: skip


def _seen_cells(s: Sighting | None) -> tuple[Any, ...]:
    """Return station, seen_at, event_id, weight, measured_kg, delta_kg of a sighting."""
    if s is None:
        return NO_SIGHTING
    return (csv_cell(s.station), _iso(s.ts_ms), s.event_id, s.weight, s.measured_kg, s.delta_kg)


def sighting_json(s: Sighting) -> dict[str, Any]:
    """Return a sighting as the API shows it."""
    return {
        "tracking_id": s.tracking_id, "event_id": s.event_id, "station": s.station,
        "ts": _iso(s.ts_ms), "ts_ms": s.ts_ms, "match": s.match, "weight": s.weight,
        "declared_kg": s.declared_kg, "measured_kg": s.measured_kg, "delta_kg": s.delta_kg,
        "hold": s.hold, "first_event_id": s.first_event_id,
    }  # fmt: skip


def line_json(li: LineStatus) -> dict[str, Any]:
    """Return a line as the API shows it (with where its bag or ULD was last seen if missing)."""
    out: dict[str, Any] = {
        "tracking_id": li.tracking_id, "line_no": li.line_no, "hawb": li.hawb, "bag": li.bag,
        "declared_kg": li.declared_kg, "description": li.description, "sightings": li.sightings,
    }  # fmt: skip
    if li.first is None:
        last = li.last_seen
        out["last_seen"] = last and {
            "station": last.station,
            "ts": _iso(last.ts_ms),
            "ts_ms": last.ts_ms,
            "via": last.via,
        }
    else:
        out["first_seen"] = sighting_json(li.first)
    return out


def report_json(report: Report) -> dict[str, Any]:
    """Return the report as JSON: counts and every exception (the CSV also lists seen lines)."""
    return {
        "manifest": {
            "id": report.manifest_id, "kind": report.kind, "reference": report.reference,
            "state": report.state, "created": _iso(report.created_ms),
            "created_ms": report.created_ms, "closed": _iso(report.closed_ms),
            "closed_ms": report.closed_ms, "closed_by": report.closed_by,
        },
        "as_of": _iso(report.as_of_ms), "as_of_ms": report.as_of_ms,
        "report_path": report.report_path, "counts": report.counts(),
        "missing": [line_json(li) for li in report.missing],
        "weight_over": [line_json(li) for li in report.weight_over],
        "weight_under": [line_json(li) for li in report.weight_under],
        "unexpected": [sighting_json(s) for s in report.unexpected],
        "duplicates": [sighting_json(s) for s in report.duplicates],
        "holds": [sighting_json(s) for s in report.holds],
    }  # fmt: skip
