"""Serial devices benchmark: parser throughput, capture latency, replug recovery, driver CPU.

Prints:
  1. frames/s through our framer + parser per protocol, against a bare regex baseline (the
     Odoo-style `measureRegexp` for 8217, `str.split` for MT-SICS) and against what a 9600-baud
     line can carry at all (8N1 = 960 bytes/s);
  2. parcel placed -> CapturedWeight latency over a real pty, against the floor set by the
     simulator's settle time plus the configured settle_ms;
  3. replug -> first valid frame, against the 2 s requirement;
  4. CPU of one polled scale driver (simulator in a separate process).

Example: .venv/bin/python bench/serial_bench.py --frames 50000 --parcels 5 --replugs 5
"""

import argparse
import logging
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dockscan.config import ScaleConfig  # noqa: E402
from edge.devices.protocols import PROTOCOLS, get_protocol  # noqa: E402
from edge.devices.scale import ScaleDevice  # noqa: E402
from firmware_sim.scales import make_scale_sim  # noqa: E402
from tests.data.scale_vectors import VECTORS  # noqa: E402

LINE_BYTES_PER_S = 960  # 9600 baud, 8N1
MODES = {"toledo-continuous": "stream", "cas": "stream"}


class Sink:
    """A listener that timestamps captures and state changes."""

    def __init__(self) -> None:
        self.captured = threading.Event()
        self.t_capture = 0.0

    def on_weight(self, weight: object) -> None:
        """Mark the capture time."""
        self.t_capture = time.monotonic()
        self.captured.set()

    def on_scan(self, scan: object) -> None:
        """Ignore scans."""

    def on_device_state(self, *args: object) -> None:
        """Ignore state changes."""


def parser_throughput(frames_n: int) -> None:
    """Frames/s through framer + parse for each protocol, with baselines."""
    print("\n## 1. Parser throughput (framer + parse, one thread)\n")
    print(
        "| protocol | frame bytes | frames/s | µs/frame | vs 9600-baud line | baseline frames/s |"
    )
    print("|---|---|---|---|---|---|")
    baselines = {
        "toledo-8217": lambda data: [
            m.group(1) for m in re.finditer(rb"\x02\s*([0-9.]+)N?\r", data)
        ],
        "mt-sics": lambda data: [line.split() for line in data.split(b"\r\n") if line],
    }
    for protocol in sorted(PROTOCOLS):
        frames = [v.frame for v in VECTORS if v.protocol == protocol]
        stream = b"".join(frames * (frames_n // len(frames)))
        count = len(frames) * (frames_n // len(frames))
        proto = get_protocol(protocol)
        began = time.perf_counter()
        parsed = 0
        for frame in proto.framer().feed(stream):
            proto.parse(frame)  # every shared vector is valid: an error here is a bug
            parsed += 1
        elapsed = time.perf_counter() - began
        assert parsed == count
        rate = count / elapsed
        line_rate = LINE_BYTES_PER_S / (len(stream) / count)
        base = "–"
        if protocol in baselines:
            b0 = time.perf_counter()
            baselines[protocol](stream)
            base_rate = count / (time.perf_counter() - b0)
            base = f"{base_rate:,.0f} (ours ×{rate / base_rate:.2f})"
        print(
            f"| {protocol} | {len(stream) / count:.1f} | {rate:,.0f} | {1e6 / rate:.1f} "
            f"| ×{rate / line_rate:,.0f} | {base} |"
        )


def capture_latency(tmp: Path, parcels: int, settle_ms: int) -> None:
    """Placement -> capture latency over a real pty, per protocol."""
    print(f"\n## 2. Parcel placed -> CapturedWeight (settle_ms={settle_ms}, sim settle 0.3 s)\n")
    floor = 0.3 + settle_ms / 1000
    print(f"Floor (sim settle + settle_ms): {floor * 1000:.0f} ms\n")
    print("| protocol | mode | p50 ms | max ms | p50 - floor ms |")
    print("|---|---|---|---|---|")
    for protocol in sorted(PROTOCOLS):
        sim = make_scale_sim(protocol, str(tmp / f"lat-{protocol}"), seed=1, rate_hz=10)
        sim.start()
        sink = Sink()
        mode = MODES.get(protocol, "poll")
        cfg = ScaleConfig(
            kind="scale", id="s", protocol=protocol, port=str(sim.link), mode=mode,
            settle_ms=settle_ms,
        )  # fmt: skip
        device = ScaleDevice(cfg, sink)  # type: ignore[arg-type]
        device.start()
        times = []
        try:
            time.sleep(0.5)
            for i in range(parcels):
                sink.captured.clear()
                placed = time.monotonic()
                sim.place(2.0 + i)
                if not sink.captured.wait(5):
                    raise SystemExit(f"{protocol}: no capture")
                times.append(sink.t_capture - placed)
                sim.remove()
                time.sleep(0.6)
        finally:
            device.stop()
            sim.stop()
        p50 = statistics.median(times)
        print(
            f"| {protocol} | {mode} | {p50 * 1000:.0f} | {max(times) * 1000:.0f} "
            f"| {(p50 - floor) * 1000:.0f} |"
        )


def replug_recovery(tmp: Path, replugs: int) -> None:
    """Replug -> first valid frame, mt-sics polled at 10 Hz and cas streamed."""
    print("\n## 3. Replug -> first valid frame (requirement: < 2000 ms)\n")
    print("| protocol | replugs | p50 ms | max ms | max / 2000 ms |")
    print("|---|---|---|---|---|")
    for protocol in ("mt-sics", "cas"):
        sim = make_scale_sim(protocol, str(tmp / f"re-{protocol}"), seed=1)
        sim.start()
        cfg = ScaleConfig(
            kind="scale", id="s", protocol=protocol, port=str(sim.link),
            mode=MODES.get(protocol, "poll"),
        )  # fmt: skip
        device = ScaleDevice(cfg, Sink())  # type: ignore[arg-type]
        device.start()
        times = []
        try:
            time.sleep(0.5)
            for _ in range(replugs):
                sim.unplug()
                while device.state != "disconnected":
                    time.sleep(0.005)
                time.sleep(1.0)
                before = device.counters["frames_ok"]
                sim.replug()
                began = time.monotonic()
                while device.counters["frames_ok"] == before:
                    time.sleep(0.002)
                times.append(time.monotonic() - began)
        finally:
            device.stop()
            sim.stop()
        print(
            f"| {protocol} | {replugs} | {statistics.median(times) * 1000:.0f} "
            f"| {max(times) * 1000:.0f} | {max(times) / 2:.2f} |"
        )


def driver_cpu(tmp: Path, seconds: float) -> None:
    """CPU used by one scale driver polling at 10 Hz, simulator in another process."""
    print(f"\n## 4. Driver CPU, mt-sics polled every 100 ms, {seconds:.0f} s\n")
    link = tmp / "cpu-scale"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dockscan", "-q", "sim", "scale", "--link", str(link)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while not link.exists():
            time.sleep(0.05)
        idle0 = time.process_time()
        time.sleep(seconds)
        idle = time.process_time() - idle0
        device = ScaleDevice(
            ScaleConfig(kind="scale", id="s", protocol="mt-sics", port=str(link)),
            Sink(),  # type: ignore[arg-type]
        )
        device.start()
        cpu0 = time.process_time()
        time.sleep(seconds)
        cpu = time.process_time() - cpu0
        frames = device.counters["frames_ok"]
        device.stop()
    finally:
        proc.terminate()
        proc.wait()
    print("| process | CPU % of one core | frames |")
    print("|---|---|---|")
    print(f"| idle bench process (baseline) | {100 * idle / seconds:.2f} | – |")
    print(f"| with one polled scale driver | {100 * cpu / seconds:.2f} | {frames} |")


def main() -> None:
    """Run the benchmark sections."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50_000)
    parser.add_argument("--parcels", type=int, default=5)
    parser.add_argument("--settle-ms", type=int, default=500)
    parser.add_argument("--replugs", type=int, default=5)
    parser.add_argument("--cpu-seconds", type=float, default=5.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print("# Serial devices benchmark (bench/serial_bench.py)")
    parser_throughput(args.frames)
    with tempfile.TemporaryDirectory() as tmp:
        capture_latency(Path(tmp), args.parcels, args.settle_ms)
        replug_recovery(Path(tmp), args.replugs)
        driver_cpu(Path(tmp), args.cpu_seconds)


if __name__ == "__main__":
    main()
