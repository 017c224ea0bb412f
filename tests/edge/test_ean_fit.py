"""The blurred EAN-13 fit: reads what zxing-cpp cannot, and refuses what is not a valid EAN-13."""

import json
from pathlib import Path

import cv2
import numpy as np
import zxingcpp
from click.testing import CliRunner

from dockscan.cli import cli
from dockscan.config import CameraConfig
from edge.vision import Decoder, DecoderSettings
from edge.vision.ean_fit import modules_of
from edge.vision.ean_read import read_blurred_ean
from edge.vision.localise import find_linear_regions

TEXT = "9780446579803"
MODULE = 2.0  # pixels per module
SIGMA = 1.2  # Gaussian blur in modules


def _photo(bars: np.ndarray, sigma_px: float = SIGMA * MODULE, seed: int = 1) -> np.ndarray:
    """Put a row of bars (1 = dark, one entry per pixel) on paper, blur it and add noise."""
    h, w = 180, len(bars) + 120
    image = np.full((h, w), 215.0)
    image[40:140, 60 : 60 + len(bars)] -= 170.0 * bars[None, :]
    image = cv2.GaussianBlur(image, (0, 0), sigma_px)
    image += np.random.default_rng(seed).normal(0.0, 2.0, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _ean_photo(modules: np.ndarray) -> np.ndarray:
    """Render 95 modules at MODULE pixels each, blurred by SIGMA modules."""
    return _photo(np.repeat(modules, int(MODULE)).astype(np.float64))


def _fit(image: np.ndarray) -> list[str]:
    """Return the texts the fit alone reads."""
    return [c.text for c in read_blurred_ean(image, find_linear_regions(image, 2))]


def test_blurred_ean_read_that_zxing_misses() -> None:
    image = _ean_photo(modules_of(TEXT))
    assert not zxingcpp.read_barcodes(image)
    assert not Decoder(DecoderSettings(ean_fit=False)).decode(image)
    codes = Decoder().decode(image)
    assert [(c.text, c.symbology) for c in codes] == [(TEXT, "ean13")]
    xs = [p[0] for p in codes[0].position]
    assert min(xs) >= 50 and max(xs) <= 60 + 95 * MODULE + 10  # where the code is


def test_upside_down_blurred_ean_read() -> None:
    image = _ean_photo(modules_of(TEXT))[::-1, ::-1].copy()
    assert _fit(image) == [TEXT]


def test_noise_refused() -> None:
    rng = np.random.default_rng(3)
    noise = rng.normal(128.0, 40.0, (200, 300))
    image = np.clip(cv2.GaussianBlur(noise, (0, 0), 1.5), 0, 255).astype(np.uint8)
    assert _fit(image) == []
    stripes = _photo((rng.random(190) < 0.5).astype(np.float64))  # random bars, no code
    assert _fit(stripes) == []


def test_code128_refused() -> None:
    img = zxingcpp.write_barcode_to_image(
        zxingcpp.create_barcode("DOCK-12345", zxingcpp.BarcodeFormat.Code128)
    )
    row = np.asarray(img)[np.asarray(img).shape[0] // 2].astype(np.float64)
    bars = np.repeat(1.0 - row / 255.0, int(MODULE))
    image = _photo(bars)
    assert _fit(image) == []
    assert all(c.symbology != "ean13" for c in Decoder().decode(image))


def test_wrong_check_digit_refused() -> None:
    tampered = TEXT[:-1] + str((int(TEXT[-1]) + 3) % 10)
    image = _ean_photo(modules_of(tampered))
    assert _fit(image) == []
    assert Decoder().decode(image) == []


def test_only_when_ean_asked() -> None:
    image = _ean_photo(modules_of(TEXT))
    assert Decoder(DecoderSettings(symbologies=("code128", "qrcode"))).decode(image) == []


def test_a_camera_never_fits_even_small_frames_with_ean13_asked() -> None:
    image = _ean_photo(modules_of(TEXT))  # 310 px wide: a close-up by size
    cfg = CameraConfig(kind="camera", id="cam1", source="0", symbologies=["ean13", "code128"])
    assert Decoder.from_camera(cfg).decode(image) == []
    assert [c.text for c in Decoder().decode(image)] == [TEXT]  # what `dockscan decode` reads


def test_the_cli_fits_blurred_ean_unless_told_not_to(tmp_path: Path) -> None:
    path = tmp_path / "blurred.png"
    cv2.imwrite(str(path), _ean_photo(modules_of(TEXT)))
    fitted = CliRunner().invoke(cli, ["decode", "--json", str(path)])
    assert fitted.exit_code == 0, fitted.output
    assert [c["text"] for c in json.loads(fitted.output)["codes"]] == [TEXT]
    skipped = CliRunner().invoke(cli, ["decode", "--json", "--no-ean-fit", str(path)])
    assert json.loads(skipped.output)["codes"] == []
