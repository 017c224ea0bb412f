"""Manifest import benchmark: a large CSV manifest through the real importer, against executemany.

In one run, on fresh stores (opened and migrated as `dockscan gateway manifest import` opens them):
  1. generates a realistic CSV manifest of --lines lines (UPU S10 ids with correct check digits,
     some SSCCs, weights, HAWB, bag, value, currency, IOSS, country, HS code, description) and a
     corrected copy in which 1% of the lines differ;
  2. baseline: a plain `INSERT INTO manifest_lines (16 columns) VALUES (16 x ?)` (no conflict
     clause) run by executemany over the same rows, checked beforehand (not timed), 100,000
     rows per call, between BEGIN IMMEDIATE and COMMIT (both timed), into a fresh store;
  3. imports the file through gateway.manifests.importer.import_manifest as the CLI does (with
     the reconciler's rejudge), in a subprocess per run: reading, checking, writing and the
     commit, with the file's lines checked in the second process (the default for a file of
     8 MB or more) and, for comparison, all in one process (worker=False); reports lines/s, the
     CPU time of the importing process and of the second process, and the peak RSS of each;
  4. re-imports the same file (sha256 match: nothing to do) and imports the corrected file;
  5. peak RSS of an import of a file a tenth the size, to show memory is flat in file size.

Example: .venv/bin/python bench/manifest_bench.py --lines 1000000 --runs 3
"""

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dockscan.codes import S10_WEIGHTS, CodeClassifier  # noqa: E402
from dockscan.config import MANIFEST_FIELDS, ManifestsConfig, parse_config  # noqa: E402

CFG = ManifestsConfig(max_file_mb=4096)  # 1,000,000 lines are about 110 MB (default cap 100 MB)
SITE = parse_config({"site": {"id": "BENCH"}})  # reconciliation on, as by default
S10_PREFIXES = ("RR", "LX", "CP", "EE", "UA", "RB", "LZ", "CX")
S10_COUNTRIES = ("CN", "CN", "CN", "HK", "SG", "GB", "US", "DE")
EU = ("DE", "FR", "BE", "NL", "IT", "ES", "PL", "AT", "SE", "IE")
OTHER = ("GB", "CH", "NO", "US")
CURRENCIES = ("EUR", "EUR", "EUR", "USD", "GBP", "CNY")
GOODS = (
    ("phone case, silicone", "392690"), ("USB-C cable 1m", "854442"), ("t-shirt cotton", "610910"),
    ("bluetooth earphones", "851830"), ("LED strip 5m", "9405.40"), ("toy figure", "950300"),
    ("sports shoes", "640411"), ("watch strap", "9113.90.00"), ("phone charger 20W", "850440"),
    ("sticker set", "491199"), ("hair clip", "961511"), ("kitchen scale", "8423.10"),
)  # fmt: skip
HEADER = list(MANIFEST_FIELDS)


def s10(prefix: str, serial: int, country: str) -> str:
    """Return a UPU S10 id with its mod-11 check digit (RR123456785CN)."""
    digits = f"{serial:08d}"
    check = 11 - sum(int(d) * w for d, w in zip(digits, S10_WEIGHTS, strict=True)) % 11
    return f"{prefix}{digits}{ {10: 0, 11: 5}.get(check, check) }{country}"


def sscc(serial: int) -> str:
    """Return an 18-digit SSCC (extension 3, GS1 company prefix, serial) with its check digit."""
    body = f"34012345{serial:09d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def row(i: int, rnd: random.Random, corrected: bool) -> list[str]:
    """Return data line i: mostly S10 ids, every 12th an SSCC; a corrected file changes 1%."""
    if i % 12 == 5:
        tracking = sscc(i)
        tracking = f"(00) {tracking}" if i % 5 == 0 else tracking
    else:
        k = i % len(S10_PREFIXES)
        tracking = s10(S10_PREFIXES[k], 10_000_000 + i, S10_COUNTRIES[k])
    country = rnd.choice(EU) if rnd.random() < 0.85 else rnd.choice(OTHER)
    kg = f"{rnd.uniform(0.05, 4.0):.3f}"
    value = f"{rnd.uniform(1, 140):.2f}"
    goods, hs = rnd.choice(GOODS)
    ioss = f"IM{rnd.randrange(10**9, 10**10):010d}" if country in EU else ""
    if i % 20 == 7:  # some carriers write decimal commas and leave the HS code out
        kg, hs = kg.replace(".", ","), ""
    if corrected and i % 100 == 3:
        kg, goods = f"{float(kg.replace(',', '.')) + 0.25:.3f}", goods + " (corrected)"
    hawb = f"H{7_000_000 + i // 4:09d}"
    bag = f"CN-BAG-{i // 250:06d}"
    return [tracking, kg, hawb, bag, value, rnd.choice(CURRENCIES), ioss, country, hs, goods]


def generate(path: Path, lines: int, corrected: bool = False) -> None:
    """Write a CSV manifest of `lines` data lines (the same values for the same seed)."""
    rnd = random.Random(13)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(HEADER)
        for i in range(lines):
            out.writerow(row(i, rnd, corrected))


def child_import(db: str, path: str, corrected: str, mode: str) -> dict[str, Any]:
    """Import `path` into a fresh store, then again, then the corrected file; return figures."""
    import logging
    import resource

    from gateway.manifests.importer import import_manifest
    from gateway.manifests.model import make_header
    from gateway.reconcile.matcher import rejudger
    from gateway.store import open_db

    class WorkerPeak(logging.Handler):
        """Keeps the peak RSS the second process reports (kB)."""

        def emit(self, record: logging.LogRecord) -> None:
            worker_peaks.append(record.args[0])  # type: ignore[index]

    worker_peaks: list[int] = []
    logging.getLogger("gateway.manifests.worker").setLevel(logging.DEBUG)
    logging.getLogger("gateway.manifests.worker").addHandler(WorkerPeak())
    conn = open_db(db)
    header, classifier = make_header(mawb="176-12345675"), CodeClassifier()
    options = {"worker": mode == "worker", "rejudge": rejudger(SITE, classifier)}
    start, cpu, waited = time.perf_counter(), time.process_time(), waited_s()
    first = import_manifest(conn, path, header, CFG, classifier, **options)
    took = time.perf_counter() - start
    waited = waited_s() - waited
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    out: dict[str, Any] = {"seconds": took, "lines": first.lines, "rss_mb": peak_rss_mb()}
    out["cpu_s"], out["waited_s"] = time.process_time() - cpu, waited
    out["worker_cpu_s"] = children.ru_utime + children.ru_stime
    out["worker_rss_mb"] = worker_peaks[0] / 1024 if worker_peaks else 0.0
    out["counts"] = (first.inserted, first.rejected)
    start = time.perf_counter()
    again = import_manifest(conn, path, header, CFG, classifier, **options)
    out["again_s"], out["again_skipped"] = time.perf_counter() - start, again.already_imported
    start = time.perf_counter()
    fix = import_manifest(conn, corrected, header, CFG, classifier, **options)
    out["fix_s"] = time.perf_counter() - start
    out["fix_counts"] = (fix.updated, fix.unchanged, fix.inserted, fix.removed, fix.rejected)
    out["history"] = conn.execute("SELECT count(*) FROM manifest_line_history").fetchone()[0]
    conn.close()
    return out


def child_baseline(db: str, path: str) -> dict[str, Any]:
    """Insert the file's rows, parsed beforehand in chunks, with plain executemany; time that."""
    from gateway.manifests.fastline import LineChecker
    from gateway.manifests.model import make_header
    from gateway.manifests.parsers import Counted, buffered, read_csv
    from gateway.manifests.store import LINE_VALUES, ensure_manifest
    from gateway.store import open_db

    conn = open_db(db)
    header, checker = make_header(mawb="176-12345675"), LineChecker(CodeClassifier())
    ensure_manifest(conn, header, 1)
    checker.stamp(header.id, 1, 1)  # rows as INSERT takes them
    took, rows, chunk = 0.0, 0, []
    plain_insert = (
        f"INSERT INTO manifest_lines (manifest_id, tracking_id, line_no, {LINE_VALUES}, import_id,"
        f" updated_ms) VALUES ({', '.join('?' * 16)})"
    )

    def insert() -> float:
        nonlocal cpu, waited
        start, cpu_start, wait_start = time.perf_counter(), time.process_time(), waited_s()
        conn.executemany(plain_insert, chunk)
        chunk.clear()
        cpu += time.process_time() - cpu_start
        waited += waited_s() - wait_start
        return time.perf_counter() - start

    cpu = waited = 0.0
    start, cpu_start, wait_start = time.perf_counter(), time.process_time(), waited_s()
    conn.execute("BEGIN IMMEDIATE")
    took += time.perf_counter() - start
    cpu += time.process_time() - cpu_start
    waited += waited_s() - wait_start
    with open(path, "rb") as raw:
        for line_no, values, _ in read_csv(buffered(Counted(raw, 1 << 40)), CFG):
            chunk.append(checker.check(line_no, values))
            rows += 1
            if len(chunk) >= 100_000:
                took += insert()
    took += insert()
    start, cpu_start, wait_start = time.perf_counter(), time.process_time(), waited_s()
    conn.execute("COMMIT")
    took += time.perf_counter() - start
    cpu += time.process_time() - cpu_start
    waited += waited_s() - wait_start
    stored = conn.execute("SELECT count(*) FROM manifest_lines").fetchone()[0]
    conn.close()
    return {"seconds": took, "cpu_s": cpu, "waited_s": waited, "lines": rows, "stored": stored}


def waited_s() -> float:
    """Return how long this process has waited for a CPU while runnable (/proc/self/schedstat)."""
    with open("/proc/self/schedstat") as schedstat:
        return int(schedstat.read().split()[1]) / 1e9


def peak_rss_mb() -> dict[str, float]:
    """Return this process's peak RSS: ru_maxrss and VmHWM (its own address space), in MB."""
    import resource

    with open("/proc/self/status") as status:
        hwm = next(ln for ln in status if ln.startswith("VmHWM:"))
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"ru_maxrss": maxrss / 1024, "vmhwm": int(hwm.split()[1]) / 1024}


def spawn(*args: str) -> dict[str, Any]:
    """Run this script as a child with `args` and return the JSON it prints."""
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True,
                          text=True, timeout=3600)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def target(store: str, tmp: Path, name: str, pg: Any) -> str:
    """Return a fresh store: a new SQLite file, or a new database on the private PostgreSQL."""
    if store == "postgres":
        return pg.url(pg.create_database(), password=True)
    return str(tmp / f"{name}.db")


def main() -> None:
    """Generate the files, run the import and the baseline, print figures and ratios."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3, help="runs of each case; medians are printed")
    ap.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--files", type=Path, default=None,
                    help="keep the generated files here and reuse them (default: a temporary"
                         " folder)")  # fmt: skip
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        out = child_import(*rest) if kind == "import" else child_baseline(*rest)
        print(json.dumps(out))
        return
    pg = None
    if args.store == "postgres":
        from dockscan.localsvc.postgres import Postgres

        pg = Postgres(fsync=True).start()
    try:
        with tempfile.TemporaryDirectory() as d:
            run(args, Path(d), args.files or Path(d), pg)
    finally:
        if pg is not None:
            pg.destroy()


def run(args: argparse.Namespace, tmp: Path, folder: Path, pg: Any) -> None:
    """Measure and print."""
    n, small = args.lines, max(args.lines // 10, 1)
    files = {}
    start = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    for size in (n, small):
        files[size] = (folder / f"m{size}.csv", folder / f"m{size}-corrected.csv")
        for path, corrected in zip(files[size], (False, True), strict=True):
            if not path.exists():
                generate(path, size, corrected)
    mb = files[n][0].stat().st_size / 1e6
    print(f"manifest: {n:,} lines, {mb:.1f} MB CSV (ready in {time.perf_counter() - start:.0f}"
          f" s); store {args.store}; {args.runs} runs, medians")  # fmt: skip
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "worker": [], "inline": []}
    for i in range(args.runs):
        base = spawn("baseline", target(args.store, tmp, f"base{i}", pg), str(files[n][0]))
        assert base["stored"] == n, base
        runs["baseline"].append(base)
        for mode in ("worker", "inline"):
            imp = spawn("import", target(args.store, tmp, f"{mode}{i}", pg), *map(str, files[n]),
                        mode)  # fmt: skip
            assert imp["counts"] == [n, 0], imp
            runs[mode].append(imp)
        print(f"  run {i + 1}: executemany {n / base['seconds']:,.0f} rows/s; import"
              f" {n / runs['worker'][-1]['seconds']:,.0f} lines/s with the second process,"
              f" {n / runs['inline'][-1]['seconds']:,.0f} in one; load average"
              f" {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip

    def median(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[mode])

    base_rate = statistics.median(n / r["seconds"] for r in runs["baseline"])
    print(
        f"baseline executemany of the checked rows: {base_rate:,.0f} rows/s"
        f" ({median('baseline', 'seconds'):.2f} s; CPU {median('baseline', 'cpu_s'):.2f} s;"
        f" waited for a CPU {median('baseline', 'waited_s'):.2f} s)"
    )
    for mode, what in (("worker", "lines checked in a second process"), ("inline", "one process")):
        rate = statistics.median(n / r["seconds"] for r in runs[mode])
        print(f"import_manifest, {what}: {rate:,.0f} lines/s ({median(mode, 'seconds'):.2f} s;"
              f" CPU {median(mode, 'cpu_s'):.2f} s importing"
              f" + {median(mode, 'worker_cpu_s'):.2f} s second process; the importing process"
              f" waited for a CPU {median(mode, 'waited_s'):.2f} s);"
              f" ratio to executemany {rate / base_rate:.2f}")  # fmt: skip
    imports = runs["worker"]
    skipped = all(r["again_skipped"] for r in imports)
    print(f"re-import of the same file: {median('worker', 'again_s') * 1000:.0f} ms"
          f" (already imported: {skipped})")  # fmt: skip
    fix, fix_s = imports[0]["fix_counts"], median("worker", "fix_s")
    print(f"corrected file (1% of lines changed): {fix_s:.2f} s, {n / fix_s:,.0f} lines/s;"
          f" updated {fix[0]:,}, unchanged {fix[1]:,}, new {fix[2]}, removed {fix[3]},"
          f" rejected {fix[4]}; history rows {imports[0]['history']:,}")  # fmt: skip
    for mode in ("worker", "inline"):
        low = spawn("import", target(args.store, tmp, f"small-{mode}", pg),
                    *map(str, files[small]), mode)  # fmt: skip
        for size, r in ((small, low), (n, runs[mode][0])):
            rss, mb = r["rss_mb"], files[size][0].stat().st_size / 1e6
            print(f"peak memory, import of {size:,} lines ({mb:.0f} MB), {mode}: importing"
                  f" process VmHWM {rss['vmhwm']:.0f} MB (ru_maxrss {rss['ru_maxrss']:.0f}),"
                  f" second process VmHWM {r['worker_rss_mb']:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
