"""Outbox size cap benchmark: what a cap costs, and what a full outbox costs per event.

Measures on real SQLite files (WAL, synchronous=FULL), all in one run:
  1. add() commits/s without a cap (baseline) and with a cap that is never reached;
  2. refusals/s of a full outbox under `block` (each is a failed transaction plus a durable
     counter write), against the baseline commit rate;
  3. add() commits/s of a full outbox under `drop_oldest` (each add first drops the oldest rows).

Example: .venv/bin/python bench/outbox_full_bench.py --events 2000
"""

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edge.outbox import Outbox, OutboxDiskFull  # noqa: E402

PAD = "x" * 450  # about the size of a real parcel event


def build(seq: int, event_id: str) -> bytes:
    """A payload about the size of a parcel event."""
    return json.dumps({"seq": seq, "event_id": event_id, "pad": PAD}).encode()


def rate(box: Outbox, n: int, expect_full: bool) -> float:
    """Return add() calls per second over n calls (refused ones count when expected)."""
    start = time.perf_counter()
    for _ in range(n):
        try:
            box.add("t", build)
        except OutboxDiskFull:
            if not expect_full:
                raise
    return n / (time.perf_counter() - start)


def fill(box: Outbox) -> int:
    """Add until the outbox is full; return how many it holds."""
    while True:
        try:
            box.add("t", build)
        except OutboxDiskFull:
            return box.depth


def main() -> None:
    """Run the three measurements and print figures with ratios to the uncapped baseline."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--cap-mb", type=float, default=0.5)
    args = ap.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # a full outbox logs its drops
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rate(Outbox(tmp / "warmup.db"), args.events, False)
        runs = [
            (rate(Outbox(tmp / f"base{i}.db"), args.events, False),
             rate(Outbox(tmp / f"capped{i}.db", max_mb=1000), args.events, False))
            for i in range(3)
        ]  # fmt: skip
        base = statistics.median(b for b, _ in runs)
        capped = statistics.median(c for _, c in runs)
        print(f"commits/s (median of 3): no cap (baseline) {base:,.0f}; 1000 MB cap, not reached "
              f"{capped:,.0f}; ratio {capped / base:.2f}")  # fmt: skip
        block = Outbox(tmp / "block.db", max_mb=args.cap_mb)
        held = fill(block)
        refused = rate(block, args.events, True)
        print(f"full, block ({args.cap_mb} MB cap holds {held} events): refusals/s "
              f"{refused:,.0f}; ratio to baseline commits {refused / base:.2f}; "
              f"counted {block.stats().refused}")  # fmt: skip
        drop = Outbox(tmp / "drop.db", overflow="drop_oldest", max_mb=args.cap_mb)
        fill_count = fill(Outbox(tmp / "probe.db", max_mb=args.cap_mb))
        for _ in range(fill_count):
            drop.add("t", build)
        dropping = rate(drop, args.events, False)
        stats = drop.stats()
        print(f"full, drop_oldest: commits/s {dropping:,.0f}; ratio to baseline "
              f"{dropping / base:.2f}; dropped {stats.dropped}, depth {stats.depth}")  # fmt: skip


if __name__ == "__main__":
    main()
