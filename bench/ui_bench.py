"""Web UI benchmark: 1,000,000 parcels and 200 stations; p50/p95 of board, station list, search.

The app runs under waitress in a second process; this process is the load generator
(keep-alive HTTP clients in threads). Every figure is printed with its ratio to /healthz,
a one-row read measured the same way in the same run.

Example: .venv/bin/python bench/ui_bench.py --parcels 1000000 --stations 200 --seconds 5
"""

import argparse
import http.client
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dockscan.events import Barcode, ParcelEvent, Weight  # noqa: E402
from gateway.schema import DDL, migrate  # noqa: E402

OUTCOMES = [
    ("OK", 940),
    ("NO_READ", 30),
    ("NO_WEIGHT", 15),
    ("INVALID_CODE", 10),
    ("MULTI_READ", 5),
]
CREATE_TABLES = "\n".join(line for line in DDL.splitlines() if "CREATE INDEX" not in line)
INDEXES = [line for line in DDL.splitlines() if "CREATE INDEX" in line]


def code_for(i: int) -> str:
    """Return the unique S10-style code of parcel number i."""
    return f"RR{i:09d}GB"


def template_event() -> str:
    """Return a real ParcelEvent as JSON with placeholders for the varying fields."""
    from datetime import UTC, datetime

    event = ParcelEvent(
        event_id="00000000-0000-7000-8000-000000000000", seq=0, site="hub", dock="D00",
        station="st-000", ts=datetime(2026, 1, 1, tzinfo=UTC), outcome="OK",
        barcodes=[Barcode(text="RR000000000GB", symbology="code128", source="cam1",
                          kind="upu_s10", check_ok=True)],
        weight=Weight(value=1.25, device_value="1.250", device_unit="kg", stable=True,
                      raw="S S      1.250 kg\\r\\n", device="scale1"),
        agent_version="0.1.0",
    )  # fmt: skip
    return event.to_json().decode()


def build_store(path: Path, parcels: int, stations: int, days: float) -> None:
    """Create the store with bulk inserts (tables first, indexes after)."""
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.executescript(CREATE_TABLES)
    rng = random.Random(7)
    now = int(time.time() * 1000)
    span = int(days * 86_400_000)
    names = [f"st-{i:03d}" for i in range(stations)]
    outcomes = [o for o, w in OUTCOMES for _ in range(w)]
    tpl = template_event()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO stations (id, site, dock, state, session, state_since_ms, last_seen_ms,"
        " last_event_ms, last_telemetry_ms, telemetry_interval_s, outbox_depth, version, devices)"
        " VALUES (?, 'hub', ?, ?, 1, ?, ?, ?, ?, 10, 0, '0.1.0', ?)",
        [
            (n, f"D{i // 8:02d}", "offline" if i % 50 == 7 else "online", now, now, now, now,
             json.dumps({"scale1": {"kind": "scale", "state": "ok", "reason": "",
                                    "since": "2026-11-27T06:00:00Z"}}))
            for i, n in enumerate(names)
        ],
    )  # fmt: skip
    batch_p, batch_c = [], []
    for i in range(parcels):
        ts = now - span + i * span // parcels  # arrival order, oldest first
        st = rng.randrange(stations)
        outcome = outcomes[rng.randrange(len(outcomes))]
        event_id = f"{ts:012x}"[:8] + "-" + f"{ts:012x}"[8:] + f"-7000-8000-{i:012d}"
        code = None if outcome == "NO_READ" else code_for(i)
        payload = (
            tpl.replace("00000000-0000-7000-8000-000000000000", event_id)
            .replace("st-000", names[st])
            .replace('"RR000000000GB"', json.dumps(code) if code else '""')
        )
        batch_p.append((event_id, "hub", names[st], f"D{st // 8:02d}", i, ts, ts + 40, ts + 60,
                        outcome, code, 1.25, "", payload))  # fmt: skip
        if code:
            batch_c.append((event_id, code, "code128", "upu_s10", 1))
        if len(batch_p) == 50_000:
            _flush(conn, batch_p, batch_c)
            print(f"  {i + 1:,} parcels", flush=True)
    _flush(conn, batch_p, batch_c)
    conn.execute("COMMIT")
    for statement in INDEXES:
        conn.execute(statement)
    migrate(conn)  # the later schema versions, as the ingest would apply them
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _flush(conn: sqlite3.Connection, parcels: list, codes: list, gateway: str = "") -> None:
    """Insert one batch of parcels and codes; bump the counters (with a gateway column: of it)."""
    conn.executemany("INSERT INTO parcels VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", parcels)
    conn.executemany(
        "INSERT INTO parcel_codes (event_id, text, symbology, kind, check_ok) VALUES (?,?,?,?,?)",
        codes,
    )
    who = (gateway,) if gateway else ()
    marks = "?, " * len(who)
    conn.execute(f"INSERT OR REPLACE INTO counters VALUES ({marks}'broker_connected', 1)", who)
    conn.execute(
        f"INSERT OR REPLACE INTO counters VALUES ({marks}'heartbeat_ms', ?)",
        (*who, time.time() * 1000),
    )
    parcels.clear()
    codes.clear()


def write_forever(path: Path, rate: float) -> None:
    """Act as the ingest: append parcels at `rate` per second in 100 ms batches (until killed)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=10)
    conn.execute("PRAGMA synchronous=NORMAL")
    rng = random.Random(11)
    tpl = template_event()
    i = 10_000_000_000
    per_batch = max(1, round(rate / 10))
    while True:
        now = int(time.time() * 1000)
        parcels, codes = [], []
        for _ in range(per_batch):
            i += 1
            st = f"st-{rng.randrange(200):03d}"
            event_id = f"{now:012x}"[:8] + "-" + f"{now:012x}"[8:] + f"-7000-9000-{i % 10**12:012d}"
            code = code_for(i)
            parcels.append((event_id, "hub", st, "D00", i, now, now, now, "OK", code, 1.0, "",
                            tpl.replace("st-000", st)))  # fmt: skip
            codes.append((event_id, code, "code128", "upu_s10", 1))
        conn.execute("BEGIN")
        _flush(conn, parcels, codes, gateway="bench-ingest")
        conn.execute("UPDATE stations SET last_event_ms = ?, last_seen_ms = ? WHERE id = ?",
                     (now, now, st))  # fmt: skip
        conn.execute("COMMIT")
        time.sleep(0.1)


def start_writer(db: Path, rate: float) -> subprocess.Popen:
    """Start the stand-in ingest process."""
    return subprocess.Popen(
        [sys.executable, __file__, "--db", str(db), "--write-only", str(rate)], cwd=REPO
    )


def start_server(db: Path, port: int, board_cache_ms: int) -> subprocess.Popen:
    """Run the app under waitress in a second process and wait until it answers."""
    cfg = {"site": {"id": "hub", "timezone": "UTC"}, "gateway": {"database": str(db)}}
    code = (
        "import json, sys; from dockscan.config import parse_config;"
        " from gateway.web.server import build;"
        " app, server = build(parse_config(json.loads(sys.argv[1])), sys.argv[2],"
        " {'BOARD_CACHE_MS': int(sys.argv[3])}); server.run()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, json.dumps(cfg), f"127.0.0.1:{port}", str(board_cache_ms)],
        cwd=REPO,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            c.getresponse().read()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the UI server did not start")


def load(port: int, paths: list[str], seconds: float, clients: int) -> list[float]:
    """Send requests from `clients` keep-alive connections for `seconds`; return latencies (ms)."""
    latencies: list[float] = []
    allowed = (200, 503) if paths == ["/healthz"] else (200,)  # 503: no ingest heartbeat
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            conn.request("GET", rng.choice(paths))
            resp = conn.getresponse()
            resp.read()
            if resp.status not in allowed:
                raise RuntimeError(f"HTTP {resp.status}")
            mine.append((time.perf_counter() - t0) * 1000)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def pct(values: list[float], q: float) -> float:
    """Return the q-th percentile (0-100) of values."""
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    """Build (or reuse) the store, then measure each endpoint with and without the board cache."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=REPO / "var" / "ui_bench.db")
    ap.add_argument("--parcels", type=int, default=1_000_000)
    ap.add_argument("--stations", type=int, default=200)
    ap.add_argument("--days", type=float, default=3.0, help="time span of the parcels")
    ap.add_argument("--seconds", type=float, default=5.0, help="load per endpoint")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--port", type=int, default=18765)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "ui.md")
    ap.add_argument("--ingest-rate", type=float, default=50.0, help="parcels/s while loading")
    ap.add_argument("--write-only", type=float, default=0.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.write_only:
        write_forever(args.db, args.write_only)
        return
    args.db.parent.mkdir(parents=True, exist_ok=True)
    if args.rebuild or not args.db.exists():
        t0 = time.monotonic()
        build_store(args.db, args.parcels, args.stations, args.days)
        print(f"built {args.db} in {time.monotonic() - t0:.0f} s")
    conn = sqlite3.connect(args.db)
    n_parcels = conn.execute("SELECT max(rowid) FROM parcels").fetchone()[0]
    n_stations = conn.execute("SELECT count(*) FROM stations").fetchone()[0]
    conn.close()
    size_mb = args.db.stat().st_size / 1e6
    print(f"store: {n_parcels:,} parcels, {n_stations} stations, {size_mb:.0f} MB")
    rng = random.Random(1)
    codes = [code_for(rng.randrange(n_parcels)) for _ in range(2000)]
    stations = [f"st-{i:03d}" for i in range(n_stations)]
    endpoints = {
        "healthz (baseline)": ["/healthz"],  # 503 when no ingest runs: same work either way
        "board /": ["/"],
        "/api/stations": ["/api/stations"],
        "barcode exact (API)": [f"/api/parcels?barcode={c}" for c in codes],
        "barcode exact (page)": [f"/parcels?barcode={c}" for c in codes],
        "barcode prefix (API)": [f"/api/parcels?match=prefix&barcode={c[:9]}" for c in codes],
        "station page": [f"/stations/{s}" for s in stations],
        "/metrics": ["/metrics"],
        "clearing desk (page)": ["/clearing"],
        "clearing queue of a dock (API)": [
            f"/api/v1/clearing?dock=D{i:02d}" for i in range(max(1, n_stations // 8))
        ],
    }
    rows = []
    scenarios = [("static store", 5000, 0.0), ("static, no board cache", 0, 0.0),
                 (f"ingest {args.ingest_rate:g}/s", 5000, args.ingest_rate)]  # fmt: skip
    for scenario, cache_ms, rate in scenarios:
        proc = start_server(args.db, args.port, cache_ms)
        writer = start_writer(args.db, rate) if rate else None
        try:
            base = None
            for name, paths in endpoints.items():
                load(args.port, paths, 1.0, 1)  # warm the page cache and connections
                lat = load(args.port, paths, args.seconds, args.clients)
                p50, p95, p99 = pct(lat, 50), pct(lat, 95), pct(lat, 99)
                base = base or p95
                rows.append((scenario, name, len(lat) / args.seconds, p50, p95, p99, p95 / base))
                print(f"{scenario:22} {name:22} {len(lat) / args.seconds:6.0f} req/s"
                      f"  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  p99 {p99:6.1f} ms"
                      f"  p95 x{p95 / base:.1f} baseline", flush=True)  # fmt: skip
        finally:
            for p in (proc, writer):
                if p is not None:
                    p.terminate()
                    p.wait(10)
    write_results(rows, args, n_parcels, n_stations, size_mb)


def write_results(
    rows: list, args: argparse.Namespace, parcels: int, stations: int, mb: float
) -> None:
    """Write bench/results/ui.md."""
    out = args.out
    lines = [
        "# Web UI benchmark (bench/ui_bench.py)",
        "",
        f"Store: {parcels:,} parcels over {args.days:g} days, {stations} stations, {mb:.0f} MB."
        f" Load: {args.clients} keep-alive clients in a second process, {args.seconds:g} s per"
        " endpoint; server: waitress (12 threads) running `gateway.web.server.build`.",
        f"Command: `.venv/bin/python bench/ui_bench.py --parcels {args.parcels} --stations"
        f" {args.stations} --seconds {args.seconds:g} --clients {args.clients}`",
        "",
        f"Machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} when the run ended"
        " (other work on the box shows up as noise).",
        "",
        "Scenarios: *static store*: nothing writes, so the board summaries and their rendering"
        " are reused (they are recomputed when the store's change marker moves, or after 5 s);"
        " *static, no board cache*: every board and station-list request recomputes everything"
        " (the worst case); *ingest N/s*: a second process appends N parcels/s in 100 ms"
        " batches while the load runs, as the gateway ingest would.",
        "Goals (issue 7): board and /api/stations p95 < 100 ms, barcode search p95 < 50 ms."
        " The board also counts each station's unresolved no-reads and median time to clear"
        " (issue 14), from the clearing backlog table (schema 8); the clearing desk page and a"
        " dock's queue (API) are measured beside them.",
        "",
        "| scenario | endpoint | req/s | p50 ms | p95 ms | p99 ms | p95 / baseline p95 |",
        "|---|---|---|---|---|---|---|",
    ]
    for cache_ms, name, rps, p50, p95, p99, ratio in rows:
        cache = "5 s (default)" if cache_ms else "off"
        lines.append(
            f"| {cache} | {name} | {rps:,.0f} | {p50:.1f} | {p95:.1f} | {p99:.1f} | {ratio:.1f} |"
        )
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
