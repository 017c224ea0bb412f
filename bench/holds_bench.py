"""Station hold list benchmark: memory and start time of a large hold list, against json.loads.

In one run, for --holds held tracking ids (UPU S10 with correct check digits, 5% with a note):
  1. receive: the gateway's retained `dockscan.holds/1` payload through HoldBook.apply
     (validate, build the table, write the file atomically): time and tracemalloc peak;
  2. start: a new HoldBook loads the stored file: time, memory kept and peak (tracemalloc),
     and the resident memory growth of a fresh process that does only that (VmRSS), or that
     receives the payload instead;
  3. baseline in the same run: stdlib json.loads of the same file, and a plain dict
     {id: reason} built from the payload (what a naive station would keep);
  4. lookups: HoldBook.find of a scanned code (normalising it) against a dict lookup.

Example: .venv/bin/python bench/holds_bench.py --holds 100000 --runs 5
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dockscan.codes import CodeClassifier, s10_with_check  # noqa: E402
from dockscan.events import Barcode  # noqa: E402
from dockscan.hub_events import HoldReason  # noqa: E402
from edge.holds import HoldBook  # noqa: E402

SITE = "LGG"
CHILD = """
import sys, time
sys.path.insert(0, {repo!r})
from dockscan.codes import CodeClassifier
from edge.holds import HoldBook
def rss_kb():
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
payload = open({payload!r}, "rb").read() if {payload!r} else b""
before = rss_kb()
start = time.perf_counter()
book = HoldBook({path!r}, {site!r}, CodeClassifier({{}}))
if payload:
    assert book.apply(payload)
took = (time.perf_counter() - start) * 1000
print(len(book), took, (rss_kb() - before) / 1024)
"""


def hold_ids(n: int) -> list[str]:
    """Return n distinct valid S10 ids."""
    return [s10_with_check("RR", 10_000_000 + i * 7, "CN") for i in range(n)]


def payload(ids: list[str]) -> bytes:
    """Return the retained list the gateway publishes for these ids."""
    reasons = [r.value for r in HoldReason]
    holds = [
        {"tracking_id": t, "reason": reasons[i % len(reasons)],
         "note": f"case {i}" if i % 20 == 0 else "", "since": "2026-12-04T10:00:00Z"}
        for i, t in enumerate(ids)
    ]  # fmt: skip
    doc = {"schema": "dockscan.holds/1", "site": SITE, "version": 7,
           "ts": "2026-12-04T10:00:00Z", "holds": holds}  # fmt: skip
    return json.dumps(doc).encode()


def measured(fn: Callable[[], Any]) -> tuple[Any, float, float, float]:
    """Run fn under tracemalloc; return its result, ms, MB kept (while alive) and MB peak."""
    tracemalloc.start()
    start = time.perf_counter()
    result = fn()
    ms = (time.perf_counter() - start) * 1000
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, ms, kept / 1e6, peak / 1e6


def timed(fn: Callable[[], Any], runs: int) -> float:
    """Return the median ms of fn over runs (no tracemalloc)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def child_rss(path: Path, payload: Path | None = None) -> tuple[float, float]:
    """Return (ms, VmRSS growth MB) of a fresh process that loads the file or receives a list."""
    code = CHILD.format(repo=str(REPO), path=str(path), site=SITE, payload=str(payload or ""))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    _n, ms, mb = out.stdout.split()
    return float(ms), float(mb)


def main() -> None:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--holds", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    classifier = CodeClassifier({})
    ids = hold_ids(args.holds)
    data = payload(ids)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "outbox.db.holds.json"
        receiver = HoldBook(path, SITE, classifier)
        taken, apply_ms, _, apply_peak = measured(lambda: receiver.apply(data))
        assert taken and len(receiver) == args.holds
        file_mb = path.stat().st_size / 1e6
        fresh = iter(range(args.runs))
        apply_med = timed(
            lambda: HoldBook(Path(tmp) / f"r{next(fresh)}.json", SITE, classifier).apply(data),
            args.runs,
        )
        book, _, load_kept, load_peak = measured(lambda: HoldBook(path, SITE, classifier))
        assert len(book) == args.holds
        load_med = timed(lambda: HoldBook(path, SITE, classifier), args.runs)
        text = path.read_bytes()
        doc, _, json_kept, json_peak = measured(lambda: json.loads(text))
        json_med = timed(lambda: json.loads(text), args.runs)
        del doc

        def naive() -> dict[str, str]:
            return {h["tracking_id"]: h["reason"] for h in json.loads(data)["holds"]}

        table, naive_ms, naive_kept, naive_peak = measured(naive)
        child_ms, child_mb = child_rss(path)
        (Path(tmp) / "payload.json").write_bytes(data)
        got_ms, got_mb = child_rss(Path(tmp) / "fresh.json", Path(tmp) / "payload.json")
        scans = [
            Barcode(
                text=ids[i * 97 % len(ids)],
                symbology="code128",
                source="s",
                kind="upu_s10",
                check_ok=True,
            )
            for i in range(1000)
        ]
        find_us = timed(lambda: [book.find([b]) for b in scans], args.runs)
        dict_us = timed(lambda: [table.get(b.text) for b in scans], args.runs)
        assert all(book.find([b]) for b in scans)
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"holds: {args.holds:,}; payload {len(data) / 1e6:.1f} MB; file {file_mb:.2f} MB")
    print(f"receive (validate + build + atomic write): {apply_med:.0f} ms (median), "
          f"peak {apply_peak:.0f} MB (traced run: {apply_ms:.0f} ms)")  # fmt: skip
    print(f"start, HoldBook loads the file:  {load_med:7.1f} ms (median of {args.runs}), "
          f"kept {load_kept:5.2f} MB, peak {load_peak:5.2f} MB")  # fmt: skip
    print(f"  fresh process: load {child_ms:.1f} ms, RSS growth {child_mb:.2f} MB; "
          f"receive instead: {got_ms:.0f} ms, RSS growth {got_mb:.1f} MB")  # fmt: skip
    print(f"baseline json.loads of the same file: {json_med:7.1f} ms (median), "
          f"kept {json_kept:5.2f} MB, peak {json_peak:5.2f} MB")  # fmt: skip
    print(f"baseline dict {{id: reason}} of the payload: {naive_ms:.0f} ms, "
          f"kept {naive_kept:.2f} MB, peak {naive_peak:.1f} MB")  # fmt: skip
    print(f"ratios: load time {load_med / json_med:.2f}x json.loads; "
          f"memory kept {load_kept / json_kept:.2f}x json.loads, "
          f"{load_kept / naive_kept:.2f}x the dict; "
          f"{load_kept * 1e6 / args.holds:.0f} bytes a hold")  # fmt: skip
    print(f"lookup of a scanned code: find {find_us:.2f} us, dict.get {dict_us:.2f} us "
          f"(find normalises the code first); bench process max RSS {maxrss:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
