"""Decode benchmark: the station pipeline vs plain zxing-cpp and plain pyzbar on real photographs.

Reads barcode photographs at rotations 0, 90, 15, 30 and 45 degrees, the 1D photos turned 45°
by several rotation methods (canvas size and fill: see bench/rotations.py), optionally through
`dockscan decode --json` itself (--through-cli), and simulated 1080p camera frames. Prints read
rate, misreads and median ms per image for each decoder, with the pipeline/baseline ratios.

Photos: without --photos, the small subset shipped in tests/data/photos. The full corpus is
ZXing's black-box test set (553 photos in the 7 formats dockscan reads; commit 7f129804e396 was
the one measured in bench/RESULTS.md):

  git clone https://github.com/zxing/zxing
  .venv/bin/python bench/decode_bench.py --photos zxing/core/src/test/resources/blackbox

zxing-cpp's test/samples folder has the same layout. --photos also takes a folder with a
MANIFEST.tsv at the top (the tests/data/photos format). See bench/README.md.

Example: .venv/bin/python bench/decode_bench.py --quick
"""

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import zxingcpp
from pyzbar import pyzbar

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.cli_decode import decode_through_cli  # noqa: E402
from bench.corpus import WHERE_TO_GET, Corpus, CorpusError, describe, open_corpus  # noqa: E402
from bench.rotations import METHODS, cut_off, rotate  # noqa: E402
from edge.vision import Decoder, DecoderSettings  # noqa: E402
from edge.vision.backends import LINEAR  # noqa: E402

ONE_D = {"code128", "ean13", "itf", "code39"} | LINEAR
ROTATIONS = (0, 90, 15, 30, 45)


@dataclass
class Sample:
    """One photograph with its expected content."""

    path: Path
    fmt: str
    expected: str
    is_hex: bool
    gray: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.uint8))


def load_samples(corpus: Corpus, every: int) -> list[Sample]:
    """Load the corpus photos as grayscale (every n-th one per format)."""
    samples, count = [], {}
    for entry in corpus.entries:
        count[entry.fmt] = count.get(entry.fmt, 0) + 1
        if (count[entry.fmt] - 1) % every:
            continue
        gray = cv2.imread(str(entry.path), cv2.IMREAD_GRAYSCALE)
        if gray is None:
            sys.exit(f"{entry.path}: not an image OpenCV can read")
        samples.append(Sample(entry.path, entry.fmt, entry.expected, entry.is_hex, gray))
    return samples


def _matches(texts: list[tuple[str, bytes]], sample: Sample) -> bool:
    """Return whether any decoded (text, bytes) equals the expected content."""
    for text, raw in texts:
        if sample.is_hex:
            if sample.expected.lower() in (raw.hex(), text.encode("latin-1", "replace").hex()):
                return True
        elif text == sample.expected:
            return True
    return False


def run_zxing(gray: np.ndarray) -> list[tuple[str, bytes]]:
    """Plain zxing-cpp: all formats, default options, raw text."""
    found = zxingcpp.read_barcodes(gray, text_mode=zxingcpp.TextMode.Plain)
    return [(b.text, b.bytes) for b in found]


def run_pyzbar(gray: np.ndarray) -> list[tuple[str, bytes]]:
    """Plain pyzbar: all symbologies ZBar knows."""
    return [(r.data.decode("utf-8", "replace"), r.data) for r in pyzbar.decode(gray)]


def pipeline_runner(decoder: Decoder) -> Callable[[np.ndarray], list[tuple[str, bytes]]]:
    """Wrap the station pipeline in the benchmark's result shape."""

    def run(gray: np.ndarray) -> list[tuple[str, bytes]]:
        return [(c.text, c.text.encode("utf-8", "replace")) for c in decoder.decode(gray)]

    return run


@dataclass
class Score:
    """Reads, misreads and per-image times for one decoder at one rotation."""

    reads: int = 0
    reads_1d: int = 0
    misreads: int = 0
    ms: list[float] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)


def score(runner: Callable, samples: list[Sample], degrees: int) -> Score:
    """Run one decoder over every sample at one rotation."""
    result = Score()
    for sample in samples:
        image = rotate(sample.gray, degrees)
        start = time.perf_counter()
        texts = runner(image)
        result.ms.append((time.perf_counter() - start) * 1000)
        if _matches(texts, sample):
            result.reads += 1
            result.reads_1d += sample.fmt in ONE_D
        elif texts:
            result.misreads += 1
            got = ", ".join(repr(t[:24]) for t, _ in texts[:2])
            result.wrong.append(f"{sample.path.parent.name}/{sample.path.name}: {got}")
    return result


def photo_table(samples: list[Sample], runners: dict[str, Callable]) -> list[str]:
    """Benchmark every decoder at every rotation; return markdown table lines."""
    n, n1d = len(samples), sum(s.fmt in ONE_D for s in samples)
    lines = [
        f"Photos: {n} ({n1d} 1D). Read = a result equals the expected raw text exactly.",
        "",
        "| rotation | decoder | read (all) | read (1D) | misreads | median ms | "
        "pipeline ÷ baseline (all / 1D) |",
        "|---:|---|---:|---:|---:|---:|---|",
    ]
    misread_notes: list[str] = []
    for degrees in ROTATIONS:
        scores = {name: score(run, samples, degrees) for name, run in runners.items()}
        pipe = scores["pipeline"]
        for name, s in scores.items():
            ratio = ""
            if name != "pipeline":
                all_ratio = pipe.reads / max(1, s.reads)
                ratio = f"{all_ratio:.2f}× / {pipe.reads_1d / max(1, s.reads_1d):.2f}×"
            lines.append(
                f"| {degrees}° | {name} | {s.reads} ({100 * s.reads / n:.1f}%) | "
                f"{s.reads_1d} ({100 * s.reads_1d / max(1, n1d):.1f}%) | {s.misreads} | "
                f"{statistics.median(s.ms):.1f} | {ratio} |"
            )
        print("\n".join(lines[-len(scores) :]), flush=True)
        misread_notes.append(f"- {degrees}°: " + "; ".join(pipe.wrong))
    return [*lines, "", "Pipeline misreads (image: returned text):", *misread_notes]


def method_table(
    samples: list[Sample], decoder: Decoder, degrees: int, methods: list[str], through_cli: bool
) -> list[str]:
    """Read the 1D photos turned by `degrees` with each rotation method; one row per method."""
    ones = [s for s in samples if s.fmt in ONE_D]
    upright = [decoder.decode(s.gray) for s in ones]  # where each code lies, for cut-off checks
    quads = [
        next((c.position for c in codes if _matches([(c.text, c.text.encode())], s)), None)
        for s, codes in zip(ones, upright, strict=True)
    ]
    lines = [
        "",
        f"{len(ones)} 1D photos turned {degrees}° by each method; `dockscan decode` defaults "
        "(zxing-cpp only, all 9 symbologies, tilt on). Cut off: a same-size canvas leaves an end "
        "of the code's centre line (where the pipeline read it at 0°) outside the picture.",
        "",
        "| method | pipeline read | misreads | median CPU ms | cut off | read of the rest | "
        "plain zxing-cpp | through `dockscan decode --json` (read / misreads / differ) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    n = len(ones)
    for method in methods:
        images = [rotate(s.gray, degrees, method) for s in ones]
        got, cpu = [], []
        for image in images:
            start = time.process_time()
            got.append([c.text for c in decoder.decode(image)])
            cpu.append((time.process_time() - start) * 1000)
        read = [_hit(texts, s) for texts, s in zip(got, ones, strict=True)]
        wrong = sum(bool(t) and not r for t, r in zip(got, read, strict=True))
        cut = [
            q is not None and cut_off(s.gray.shape, list(q), degrees, method)
            for s, q in zip(ones, quads, strict=True)
        ]
        rest = [r for r, c in zip(read, cut, strict=True) if not c]
        plain = sum(_matches(run_zxing(image), s) for image, s in zip(images, ones, strict=True))
        cli = "not run (--through-cli)"
        if through_cli:
            texts = decode_through_cli(images)
            cli_read = [_hit(t, s) for t, s in zip(texts, ones, strict=True)]
            cli_wrong = sum(bool(t) and not r for t, r in zip(texts, cli_read, strict=True))
            differ = sum(a != b for a, b in zip(cli_read, read, strict=True))
            cli = f"{sum(cli_read)} ({100 * sum(cli_read) / n:.1f}%) / {cli_wrong} / {differ}"
        lines.append(
            f"| {method} | {sum(read)} ({100 * sum(read) / n:.1f}%) | {wrong} | "
            f"{statistics.median(cpu):.1f} | {sum(cut)} | {sum(rest)} / {len(rest)} "
            f"({100 * sum(rest) / max(1, len(rest)):.1f}%) | {plain} ({100 * plain / n:.1f}%) | "
            f"{cli} |"
        )
        print(lines[-1], flush=True)
    return lines


def cli_upright_line(samples: list[Sample]) -> list[str]:
    """Read every photo at 0° through `dockscan decode --json`; return one summary line."""
    texts = decode_through_cli([s.gray for s in samples])
    read = [_hit(t, s) for t, s in zip(texts, samples, strict=True)]
    wrong = sum(bool(t) and not r for t, r in zip(texts, read, strict=True))
    n = len(samples)
    line = (
        f"0° through `dockscan decode --json` (defaults): {sum(read)} / {n} "
        f"({100 * sum(read) / n:.1f}%), misreads {wrong}."
    )
    print(line, flush=True)
    return ["", line]


def _hit(texts: list[str], sample: Sample) -> bool:
    """Return whether any decoded text is the sample's expected content."""
    return _matches([(t, t.encode("utf-8", "replace")) for t in texts], sample)


def frame_table(frames: int, seed: int) -> list[str]:
    """Time the camera pipeline and plain zxing-cpp / pyzbar on simulated 1080p frames."""
    from firmware_sim.camera import CameraScene

    scene = CameraScene(seed=seed)
    shots = [scene.frame(i) for i in range(frames)]
    camera_set = ("code128", "gs1-128", "datamatrix", "qrcode", "pdf417")
    half = Decoder(DecoderSettings(symbologies=camera_set, downscale=0.5))
    full = Decoder(DecoderSettings(symbologies=camera_set))
    runners: dict[str, Callable] = {
        "pipeline, camera symbologies, downscale 0.5": lambda img: half.decode(img),
        "pipeline, camera symbologies, full resolution": lambda img: full.decode(img),
        "plain zxing-cpp (all formats, full frame)": lambda img: run_zxing(_gray(img)),
        "plain pyzbar (full frame)": lambda img: run_pyzbar(_gray(img)),
    }
    lines = [
        "",
        f"Simulated 1920x1080 frames: {frames} (seed {seed}); a code counts when its text is "
        "returned while the simulator has it fully in view. Times include grayscale conversion.",
        "",
        "| decoder | codes read / in view | median ms | p90 ms | median CPU ms | "
        "plain zxing-cpp ÷ this (CPU) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    rows = []
    for name, run in runners.items():
        ms, cpu, got, want = [], [], 0, 0
        for shot in shots:
            c0, t0 = time.process_time(), time.perf_counter()
            result = run(shot.image)
            ms.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            texts = {r[0] if isinstance(r, tuple) else r.text for r in result}
            want += len(shot.truth)
            got += sum(t.text in texts for t in shot.truth)
        rows.append((name, got, want, ms, statistics.median(cpu)))
    base_cpu = rows[2][4]
    for name, got, want, ms, cpu_median in rows:
        p90 = statistics.quantiles(ms, n=10)[8]
        lines.append(
            f"| {name} | {got} / {want} | {statistics.median(ms):.1f} | {p90:.1f} | "
            f"{cpu_median:.1f} | {base_cpu / cpu_median:.2f}× |"
        )
        print(lines[-1], flush=True)
    return lines


def _gray(image: np.ndarray) -> np.ndarray:
    """Convert a BGR frame to grayscale."""
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def main() -> None:
    """Parse options, run the photo and frame benchmarks, write the markdown report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--photos",
        type=Path,
        default=None,
        help="a ZXing black-box folder or a folder with MANIFEST.tsv (default: the shipped "
        f"subset in tests/data/photos); full corpus: {WHERE_TO_GET}",
    )
    parser.add_argument("--quick", action="store_true", help="every 5th photo, 20 frames")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default="", help="also write the tables to this markdown file")
    parser.add_argument(
        "--methods",
        default=",".join(METHODS),
        help=f"rotation methods for the tilt table (default all: {', '.join(METHODS)})",
    )
    parser.add_argument("--tilt", type=int, default=45, help="angle of the tilt table")
    parser.add_argument(
        "--through-cli",
        action="store_true",
        help="also write the turned photos as PNG and read them with `dockscan decode --json`",
    )
    parser.add_argument(
        "--parts", default="photos,methods,frames", help="any of photos, methods, frames"
    )
    args = parser.parse_args()
    cv2.setNumThreads(1)
    try:
        corpus = open_corpus(args.photos)
    except CorpusError as exc:
        sys.exit(str(exc))
    samples = load_samples(corpus, 5 if args.quick else 1)
    pipeline = Decoder(DecoderSettings(backends=("zxing", "pyzbar")))
    zxing_only = Decoder(DecoderSettings(backends=("zxing",)))
    runners = {
        "pipeline": pipeline_runner(pipeline),
        "pipeline, zxing-cpp only": pipeline_runner(zxing_only),
        "plain zxing-cpp": run_zxing,
        "plain pyzbar": run_pyzbar,
    }
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    head = [
        *describe(corpus).splitlines(),
        f"Machine: {os.cpu_count()} cores, load average at start {load}; OpenCV threads 1.",
        "pipeline = edge.vision.Decoder, all 9 symbologies, backends zxing-cpp then pyzbar, tilt "
        "recovery on; plain = one read_barcodes / decode call with default options.",
        "",
    ]
    print("\n".join(head), flush=True)
    parts = set(args.parts.split(","))
    methods = [m for m in args.methods.split(",") if m]
    unknown = set(methods) - set(METHODS)
    if unknown:
        sys.exit(f"unknown rotation methods {sorted(unknown)}; known: {', '.join(METHODS)}")
    lines = list(head)
    if "photos" in parts:
        lines += photo_table(samples, runners)
    if "methods" in parts:
        lines += method_table(samples, zxing_only, args.tilt, methods, args.through_cli)
        if args.through_cli:
            lines += cli_upright_line(samples)
    if "frames" in parts:
        lines += frame_table(20 if args.quick else args.frames, args.seed)
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
