"""Dead-letter costs: store writes of new and repeated dead letters against valid parcels, and
validation time per message kind.

Run: .venv/bin/python bench/dead_letter_bench.py [--messages 20000] [--batch 500]
"""

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from dockscan.events import Barcode, ParcelEvent, Weight
from dockscan.ids import utcnow, uuid7
from dockscan.topics import Topics
from gateway.clock import now_ms
from gateway.deadletters import dead_letter
from gateway.store import Batch, Store
from gateway.validate import Rejected, validate

TOPIC = "dockscan/v1/T1/st1/parcel"


def event(seq: int) -> ParcelEvent:
    """Return a typical parcel event (one code, one weight)."""
    return ParcelEvent(
        event_id=uuid7(), seq=seq, site="T1", dock="d1", station="st1", ts=utcnow(), outcome="OK",
        barcodes=[Barcode(text=f"JJD{seq:012d}", symbology="code128", source="cam",
                          kind="unknown", check_ok=None)],
        weight=Weight(value=1.25, device_value="1.250", device_unit="kg", stable=True,
                      raw="S S 1.250 kg", device="scale"),
        agent_version="bench",
    )  # fmt: skip


def rate(store: Store, batches: list[Batch]) -> float:
    """Write the batches; return messages per second."""
    count = sum(len(b.parcels) + len(b.dead) for b in batches)
    start = time.perf_counter()
    for batch in batches:
        store.write(batch)
    return count / (time.perf_counter() - start)


def per_call_us(fn: Callable[[], object], repeat: int = 2000) -> float:
    """Return the median microseconds of one call."""
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        times.append((time.perf_counter() - start) / repeat * 1e6)
    return statistics.median(times)


def main() -> None:
    """Measure and print the figures with ratios to the valid-parcel baseline."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    n, size = args.messages, args.batch
    events = [event(i) for i in range(n)]
    bad = [e.to_json()[:-7] for e in events]  # truncated JSON: bad JSON, distinct per event
    rx = now_ms()
    letters = [dead_letter(rx, TOPIC, "st1", p, "bad JSON: x", 4096) for p in bad]
    one = letters[:1] * size

    def chunks(items: list) -> list[list]:
        return [items[i : i + size] for i in range(0, len(items), size)]

    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "gw.db") as store:
        results = {
            "valid parcels (baseline)": rate(
                store, [Batch(parcels=[(e, e.to_json(), rx) for e in c]) for c in chunks(events)]
            ),
            "new dead letters": rate(store, [Batch(dead=c) for c in chunks(letters)]),
            "repeated dead letters (all already stored)": rate(
                store, [Batch(dead=c) for c in chunks(letters)]
            ),
            f"one dead letter {size}x per batch": rate(
                store, [Batch(dead=one) for _ in range(n // size)]
            ),
        }
        rows = store.conn.execute("SELECT count(*), sum(repeats) FROM dead_letters").fetchone()
    base = results["valid parcels (baseline)"]
    print(f"store writes, {n} messages in batches of {size} (real SQLite file, WAL):")
    for name, value in results.items():
        print(f"  {name:45s} {value:10,.0f} msg/s  ratio {value / base:.2f}")
    print(f"  dead-letter rows {rows[0]:,} for {rows[1]:,} arrivals")

    topics, good, deep = Topics(), events[0].to_json(), b"[" * 10_000 + b"]" * 10_000

    def check(payload: bytes) -> Callable[[], object]:
        def call() -> object:
            try:
                return validate(topics, TOPIC, payload, 64 * 1024)
            except Rejected as exc:
                return exc

        return call

    valid_us = per_call_us(check(good))
    print("validate() per message:")
    for name, payload in [("valid event (baseline)", good), ("bad JSON", bad[0]),
                          ("10,000-deep nesting", deep)]:  # fmt: skip
        us = per_call_us(check(payload))
        print(f"  {name:45s} {us:10.1f} us     ratio {us / valid_us:.2f}")
    us = per_call_us(lambda: dead_letter(rx, TOPIC, "st1", good, "r", 4096))
    print(f"  {'dead_letter() incl. sha256 of ~600 bytes':45s} {us:10.1f} us")


if __name__ == "__main__":
    main()
