"""`dockscan gateway export`: CSV and JSON lines over a time range, round-tripped."""

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from dockscan.cli import cli
from dockscan.events import ParcelEvent
from dockscan.ids import iso_ms, utcnow
from gateway.clock import now_ms
from gateway.db import is_postgres
from gateway.store import Batch, Store
from tests.gateway.ingest_support import parcel, write_config
from tests.support.stores import new_store

T0 = utcnow().replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)


@pytest.fixture
def other_target(
    request: pytest.FixtureRequest, store_target: str, tmp_path: Path
) -> Iterator[str]:
    """A second empty store on the same backend as store_target."""
    backend = "postgres" if is_postgres(store_target) else "sqlite"
    yield from new_store(request, tmp_path / "copy.db", backend)


def fill(db: str | Path) -> list[ParcelEvent]:
    """Store 12 parcels from two stations, one per hour from T0, with awkward code text."""
    events = []
    for i in range(12):
        ev = parcel(f"st{1 + i % 2}", i, code=f'=1+1,"q"\n{i}\x1d')
        events.append(ev.model_copy(update={"ts": T0 + timedelta(hours=i)}))
    with Store(db) as store:
        store.write(Batch(parcels=[(e, e.to_json(), now_ms()) for e in events]))
    return events


def run_export(cfg: Path, *args: str) -> str:
    """Run the export command and return what it wrote to stdout."""
    result = CliRunner().invoke(cli, ["gateway", "export", "-c", str(cfg), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_jsonl_round_trips_through_a_fresh_store(
    tmp_path: Path, store_target: str, other_target: str
) -> None:
    cfg = write_config(tmp_path, "mqtt://127.0.0.1:1", database=store_target)
    events = fill(store_target)
    text = run_export(cfg, "--format", "jsonl")
    back = [ParcelEvent.model_validate_json(line) for line in text.splitlines()]
    assert len(back) == 12 and back == events  # every field, in capture order
    with Store(other_target) as store:
        store.write(Batch(parcels=[(e, e.to_json(), now_ms()) for e in back]))
    again = run_export(cfg, "--format", "jsonl", "--db", other_target)
    assert again == text


def test_csv_columns_time_range_and_station(tmp_path: Path, store_target: str) -> None:
    cfg = write_config(tmp_path, "mqtt://127.0.0.1:1", database=store_target)
    events = fill(store_target)
    since, until = iso_ms(T0 + timedelta(hours=2)), iso_ms(T0 + timedelta(hours=8))
    out = tmp_path / "out.csv"
    run_export(cfg, "--since", since, "--until", until, "--station", "st1", "-o", str(out))
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"), newline="")))
    expected = [e for e in events[2:8] if e.station == "st1"]  # until is exclusive
    assert len(expected) == 3
    assert [r["event_id"] for r in rows] == [e.event_id for e in expected]
    for row, ev in zip(rows, expected, strict=True):
        assert row["ts"] == iso_ms(ev.ts)
        assert int(row["seq"]) == ev.seq
        assert row["barcode"] == "'" + ev.barcodes[0].text  # a formula, defused; commas,
        # quotes, newline and GS survive
        assert orjson.loads(row["codes"]) == [b.text for b in ev.barcodes]
        assert float(row["weight_kg"]) == ev.weight.value  # type: ignore[union-attr]
        assert (row["outcome"], row["station"], row["dock"]) == ("OK", "st1", "d1")


def test_missing_sqlite_file_is_a_one_line_error(tmp_path: Path) -> None:
    """SQLite only: a missing file; a PostgreSQL database is created by the server, not us."""
    cfg = write_config(tmp_path, "mqtt://127.0.0.1:1")
    missing = CliRunner().invoke(cli, ["gateway", "export", "-c", str(cfg)])
    assert missing.exit_code == 2 and "no database at" in missing.output


def test_bad_arguments_are_one_line_errors(tmp_path: Path, store_target: str) -> None:
    cfg = write_config(tmp_path, "mqtt://127.0.0.1:1", database=store_target)
    runner = CliRunner()
    base = ["gateway", "export", "-c", str(cfg)]
    fill(store_target)
    bad = runner.invoke(cli, [*base, "--since", "yesterday"])
    assert bad.exit_code == 2 and "not an ISO 8601 time: 'yesterday'" in bad.output
    backwards = runner.invoke(cli, [*base, "--since", "2026-02-01", "--until", "2026-01-01"])
    assert backwards.exit_code == 2 and "--until must be after --since" in backwards.output
