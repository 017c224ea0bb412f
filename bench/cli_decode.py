"""Run `dockscan decode --json` on images written to a temporary folder (the CLI's own path)."""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np


def dockscan_command() -> list[str]:
    """Return the command that runs the installed `dockscan` CLI of this interpreter's venv."""
    script = Path(sys.executable).with_name("dockscan")
    if script.is_file():
        return [str(script)]
    found = shutil.which("dockscan")
    if found:
        return [found]
    return [sys.executable, "-c", "from dockscan.cli import cli; cli()"]


def decode_through_cli(images: list[np.ndarray], batch: int = 200) -> list[list[str]]:
    """Write each image as a PNG, run `dockscan decode --json` on them; return texts per image."""
    texts: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="dockscan-bench-") as folder:
        paths = []
        for number, image in enumerate(images):
            path = Path(folder) / f"{number:05d}.png"
            if not cv2.imwrite(str(path), image):
                raise OSError(f"cannot write {path}")
            paths.append(str(path))
        for start in range(0, len(paths), batch):
            chunk = paths[start : start + batch]
            run = subprocess.run(
                [*dockscan_command(), "decode", "--json", *chunk],
                capture_output=True,
                text=True,
                check=False,
            )
            lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
            by_path = {line["path"]: line for line in lines}
            if run.returncode != 0 or len(by_path) != len(chunk):
                why = run.stderr[-500:]
                raise RuntimeError(f"dockscan decode failed ({run.returncode}): {why}")
            texts += [[c["text"] for c in by_path[p].get("codes", [])] for p in chunk]
    return texts
