"""The real barcode photographs shipped with the tests (tests/data/photos, ZXing, Apache-2.0)."""

from pathlib import Path

import cv2
import numpy as np

PHOTOS = Path(__file__).resolve().parent / "photos"


def photo_path(rel: str) -> Path:
    """Return the path of a shipped photograph; fail loudly when it is missing."""
    path = PHOTOS / rel
    assert path.is_file(), (
        f"shipped photo {rel} missing under {PHOTOS}: restore it with "
        "git checkout -- tests/data/photos"
    )
    return path


def photo(rel: str) -> np.ndarray:
    """Load a shipped photograph as grayscale; fail loudly when it is missing or unreadable."""
    gray = cv2.imread(str(photo_path(rel)), cv2.IMREAD_GRAYSCALE)
    assert gray is not None, f"shipped photo {rel} is not a readable image"
    return gray
