"""Barcode decoder backends: zxing-cpp (default) and pyzbar (optional), with one result type."""

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import zxingcpp

from dockscan.errors import DeviceError

logger = logging.getLogger(__name__)

Quad = tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]
LINEAR = frozenset({"code128", "gs1-128", "ean13", "itf14", "itf", "code39"})
BARS = LINEAR | {"pdf417"}  # what a de-rotated crop of a bar-like region may hold
TURN_SENSITIVE = frozenset({"datamatrix", "pdf417"})

_F = zxingcpp.BarcodeFormat
ZXING_FORMATS: dict[str, list[zxingcpp.BarcodeFormat]] = {
    "code128": [_F.Code128],
    "gs1-128": [_F.Code128],
    "ean13": [_F.EAN13, _F.UPCA],
    "itf14": [_F.ITF],
    "itf": [_F.ITF],
    "code39": [_F.Code39],
    "qrcode": [_F.QRCode],
    "datamatrix": [_F.DataMatrix],
    "pdf417": [_F.PDF417],
}


@dataclass(frozen=True)
class Code:
    """One decoded code: raw text, symbology name, corner points in frame pixels, backend."""

    text: str
    symbology: str
    position: Quad
    backend: str = "zxing"

    def centre(self) -> tuple[float, float]:
        """Return the centre of the code's corner points."""
        xs = [p[0] for p in self.position]
        ys = [p[1] for p in self.position]
        return sum(xs) / 4.0, sum(ys) / 4.0


class Backend(Protocol):
    """A decoder that reads codes from a grayscale image."""

    name: str

    def read(
        self,
        gray: np.ndarray,
        bars_only: bool = False,
        global_threshold: bool = False,
        upright: bool = False,
    ) -> list[Code]:
        """Return every code found in the image (upright: bars known to stand vertical)."""


def _linear_name(fmt_name: str, text: str, symbology_id: str) -> str:
    """Map a zxing-cpp 1D format to our symbology name."""
    if fmt_name == "Code128":
        return "gs1-128" if symbology_id.startswith("]C1") else "code128"
    if fmt_name.startswith("Code39"):
        return "code39"
    if fmt_name in ("EAN13", "UPCA"):
        return "ean13"
    if fmt_name == "ITF":
        return "itf14" if len(text) == 14 and text.isdigit() else "itf"
    return fmt_name.lower()


_LOCAL = zxingcpp.Binarizer.LocalAverage
_MATRIX_NAMES = {"QRCode": "qrcode", "DataMatrix": "datamatrix", "PDF417": "pdf417"}


def symbology_name(fmt_name: str, text: str, symbology_id: str) -> str:
    """Return our lowercase symbology name for a zxing-cpp format name."""
    return _MATRIX_NAMES.get(fmt_name) or _linear_name(fmt_name, text, symbology_id)


def accept(symbology: str, allowed: frozenset[str], text: str = "") -> bool:
    """Return whether a read is allowed (itf/itf14 and code128/gs1-128 are siblings)."""
    if symbology in ("itf", "itf14") and (len(text) < 6 or len(text) % 2):
        return False  # ITF holds digit pairs; short reads are mostly partial scans
    if symbology in allowed:
        return True
    siblings = {"itf": "itf14", "itf14": "itf", "code128": "gs1-128", "gs1-128": "code128"}
    return siblings.get(symbology) in allowed


def _formats(names: Iterable[str]) -> zxingcpp.BarcodeFormats:
    """Combine the zxing-cpp formats of these symbology names."""
    unique = {fmt for name in names for fmt in ZXING_FORMATS[name]}
    return zxingcpp.BarcodeFormats(sorted(unique, key=lambda f: f.name))


class ZxingBackend:
    """zxing-cpp restricted to the configured symbologies, raw (plain) text."""

    name = "zxing"

    def __init__(self, symbologies: Sequence[str], try_rotate: bool = True) -> None:
        self.allowed = frozenset(symbologies)
        # zxing-cpp reads DataMatrix and PDF417 at 90° only with try_rotate; 1D codes at any
        # angle are left to the de-rotated crops when try_rotate is off, which saves most time.
        turned = self.allowed & TURN_SENSITIVE if not try_rotate else self.allowed
        upright = self.allowed - turned
        self.passes = [
            (_formats(names), rotate)
            for names, rotate in ((upright, False), (turned, True))
            if names
        ]
        bars = self.allowed & BARS
        self.bar_passes = [(_formats(bars), True)] if bars else []

    def read(
        self,
        gray: np.ndarray,
        bars_only: bool = False,
        global_threshold: bool = False,
        upright: bool = False,
    ) -> list[Code]:
        """Decode every code in a grayscale image (optionally with a global-histogram threshold).

        upright: the image is a de-rotated crop with its bars vertical, so no 90° scan (a code
        read across the bars' length there is clutter, such as streaks, not a label).
        """
        binarizer = zxingcpp.Binarizer.GlobalHistogram if global_threshold else _LOCAL
        found = []
        for formats, try_rotate in self.bar_passes if bars_only else self.passes:
            found += zxingcpp.read_barcodes(
                gray,
                formats=formats,
                text_mode=zxingcpp.TextMode.Plain,
                try_rotate=try_rotate and not upright,
                binarizer=binarizer,
            )
        out = []
        for bc in found:
            name = symbology_name(bc.format.name, bc.text, bc.symbology_identifier)
            if not accept(name, self.allowed, bc.text):
                continue
            p = bc.position
            corners = (p.top_left, p.top_right, p.bottom_right, p.bottom_left)
            quad: Quad = tuple((int(c.x), int(c.y)) for c in corners)  # type: ignore[assignment]
            out.append(Code(bc.text, name, quad, self.name))
        return out


_ZBAR_NAMES = {
    "code128": ["CODE128"],
    "gs1-128": ["CODE128"],
    "ean13": ["EAN13", "UPCA"],
    "itf14": ["I25"],
    "itf": ["I25"],
    "code39": ["CODE39"],
    "qrcode": ["QRCODE"],
}


class PyzbarBackend:
    """pyzbar (ZBar) for the symbologies it reads; needs Debian's libzbar0."""

    name = "pyzbar"

    def __init__(self, symbologies: Sequence[str]) -> None:
        try:
            from pyzbar import pyzbar
        except (ImportError, OSError) as exc:
            raise DeviceError(
                f"pyzbar backend unavailable ({exc}); install with "
                "`apt-get install libzbar0` and `pip install pyzbar`"
            ) from None
        self._pyzbar = pyzbar
        self.allowed = frozenset(symbologies)
        wanted = {z for s in self.allowed for z in _ZBAR_NAMES.get(s, [])}
        self.symbols = [pyzbar.ZBarSymbol[z] for z in sorted(wanted)]
        self.linear_symbols = [s for s in self.symbols if s.name != "QRCODE"]

    def read(
        self,
        gray: np.ndarray,
        bars_only: bool = False,
        global_threshold: bool = False,
        upright: bool = False,
    ) -> list[Code]:
        """Decode every code in a grayscale image (ZBar has one binarizer; flags ignored)."""
        symbols = self.linear_symbols if bars_only else self.symbols
        if not symbols:
            return []
        out = []
        for res in self._pyzbar.decode(gray, symbols=symbols):
            text = res.data.decode("utf-8", errors="replace")
            name = {"CODE128": "code128", "EAN13": "ean13", "UPCA": "ean13", "I25": "itf"}.get(
                res.type, res.type.lower()
            )
            if name == "code128" and text.startswith("\x1d"):
                name, text = "gs1-128", text[1:]
            if name == "itf" and len(text) == 14 and text.isdigit():
                name = "itf14"
            if name == "ean13" and res.type == "UPCA":
                text = "0" + text if len(text) == 12 else text
            if not accept(name, self.allowed, text):
                continue
            pts = [(int(p.x), int(p.y)) for p in res.polygon][:4]
            while len(pts) < 4:
                pts.append(pts[-1] if pts else (0, 0))
            out.append(Code(text, name, tuple(pts), self.name))  # type: ignore[arg-type]
        return out


def build_backends(
    names: Sequence[str], symbologies: Sequence[str], try_rotate: bool = True
) -> list[Backend]:
    """Create the backend chain named in config, in order (try_rotate: zxing's 90° 1D scan)."""
    chain: list[Backend] = []
    for name in names:
        if name == "zxing":
            chain.append(ZxingBackend(symbologies, try_rotate))
        elif name == "pyzbar":
            chain.append(PyzbarBackend(symbologies))
        else:
            raise DeviceError(f"unknown decoder backend {name!r} (use zxing or pyzbar)")
    return chain
