"""Multi-frame benchmark: per-frame against per-parcel read rate, simulator passes, motion blur.

A parcel crosses the camera in several frames. The station keeps every read of its pairing window,
so a parcel counts as read when its id code (the label's Code 128 / GS1-128) was read in any frame
of its pass. This script renders N passes at several motion-blur strengths, decodes every frame
with the camera's Decoder (CameraConfig defaults: camera symbologies, zxing-cpp, tilt on, full
resolution) and reports, from the same decodes:

- per frame: frames where the id code was read / frames where it was fully in view;
- per parcel: passes where the id code was read in at least one frame / passes;
- false codes: reads (frame, text) whose text is none of the codes printed on that parcel.

Example: .venv/bin/python bench/multiframe_bench.py --parcels 60
"""

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dockscan.config import CameraConfig  # noqa: E402
from edge.vision import Decoder  # noqa: E402
from firmware_sim.camera import CameraScene  # noqa: E402

BANDS = ((0.0, 0.0), (2.0, 4.0), (4.0, 6.0), (6.0, 8.0), (8.0, 10.0), (10.0, 12.0))


@dataclass
class Tally:
    """Counts for one blur band."""

    frames_in_view: int = 0
    frames_read: int = 0
    parcels: int = 0
    parcels_read: int = 0
    parcels_in_view: int = 0
    false_reads: int = 0
    false_texts: set[str] = field(default_factory=set)
    cpu_ms: list[float] = field(default_factory=list)


def run_band(band: tuple[float, float], parcels: int, seed: int, decoder: Decoder) -> Tally:
    """Render `parcels` passes with motion blur drawn from `band` and decode every frame."""
    scene = CameraScene(seed=seed, motion_blur_px=band)
    tally = Tally()
    for number in range(parcels):
        printed = {c.text for c in scene.parcel_codes(number)}
        parcel_id = scene.parcel_codes(number)[0].text
        seen_in_view = read_any = False
        for phase in range(scene.parcel_frames):
            shot = scene.frame(number * scene.period + phase)
            start = time.process_time()
            texts = {c.text for c in decoder.decode(shot.image)}
            tally.cpu_ms.append((time.process_time() - start) * 1000)
            in_view = any(t.text == parcel_id for t in shot.truth)
            seen_in_view |= in_view
            tally.frames_in_view += in_view
            tally.frames_read += in_view and parcel_id in texts
            read_any |= parcel_id in texts
            wrong = texts - printed
            tally.false_reads += len(wrong)
            tally.false_texts |= wrong
        tally.parcels += 1
        tally.parcels_in_view += seen_in_view
        tally.parcels_read += read_any
    return tally


def main() -> None:
    """Run every blur band and print one markdown row per band."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parcels", type=int, default=60, help="passes per blur band")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", default="", help="also write the table to this markdown file")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    decoder = Decoder.from_camera(CameraConfig(kind="camera", id="cam", source="0"))
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"{args.parcels} passes per band (seed {args.seed}), 12 frames each, 1920x1080; decoder: "
        "CameraConfig defaults (camera symbologies, zxing-cpp, tilt, full resolution).",
        f"Machine: {os.cpu_count()} cores, load average at start {load}; OpenCV threads 1.",
        "",
        "| motion blur (px, per parcel) | per frame: id read / in view | per parcel: read in "
        "any frame | parcels with the id fully in view at least once | false codes (reads / "
        "distinct) | median CPU ms per frame |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    print("\n".join(lines), flush=True)
    for band in BANDS:
        t = run_band(band, args.parcels, args.seed, decoder)
        name = "none" if band == (0.0, 0.0) else f"{band[0]:.0f}–{band[1]:.0f}"
        frame_rate = 100 * t.frames_read / max(1, t.frames_in_view)
        parcel_rate = 100 * t.parcels_read / max(1, t.parcels)
        lines.append(
            f"| {name} | {t.frames_read} / {t.frames_in_view} ({frame_rate:.1f} %) | "
            f"{t.parcels_read} / {t.parcels} ({parcel_rate:.1f} %) | {t.parcels_in_view} | "
            f"{t.false_reads} / {len(t.false_texts)} | {statistics.median(t.cpu_ms):.1f} |"
        )
        print(lines[-1], flush=True)
        if t.false_texts:
            print("  false codes: " + ", ".join(sorted(repr(x) for x in t.false_texts)))
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
