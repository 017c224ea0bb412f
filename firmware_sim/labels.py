"""Parcel label content (UPU S10, GS1 SSCC) and rendering of the codes a label carries."""

import random
from dataclasses import dataclass

import cv2
import numpy as np
import zxingcpp

GS = "\x1d"
S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)

# Code 128 bar/space widths for values 0..106 (106 = stop, 7 elements).
_C128 = [
    "212222",
    "222122",
    "222221",
    "121223",
    "121322",
    "131222",
    "122213",
    "122312",
    "132212",
    "221213",
    "221312",
    "231212",
    "112232",
    "122132",
    "122231",
    "113222",
    "123122",
    "123221",
    "223211",
    "221132",
    "221231",
    "213212",
    "223112",
    "312131",
    "311222",
    "321122",
    "321221",
    "312212",
    "322112",
    "322211",
    "212123",
    "212321",
    "232121",
    "111323",
    "131123",
    "131321",
    "112313",
    "132113",
    "132311",
    "211313",
    "231113",
    "231311",
    "112133",
    "112331",
    "132131",
    "113123",
    "113321",
    "133121",
    "313121",
    "211331",
    "231131",
    "213113",
    "213311",
    "213131",
    "311123",
    "311321",
    "331121",
    "312113",
    "312311",
    "332111",
    "314111",
    "221411",
    "431111",
    "111224",
    "111422",
    "121124",
    "121421",
    "141122",
    "141221",
    "112214",
    "112412",
    "122114",
    "122411",
    "142112",
    "142211",
    "241211",
    "221114",
    "413111",
    "241112",
    "134111",
    "111242",
    "121142",
    "121241",
    "114212",
    "124112",
    "124211",
    "411212",
    "421112",
    "421211",
    "212141",
    "214121",
    "412121",
    "111143",
    "111341",
    "131141",
    "114113",
    "114311",
    "411113",
    "411311",
    "113141",
    "114131",
    "311141",
    "411131",
    "211412",
    "211214",
    "211232",
    "2331112",
]
START_B, START_C, CODE_B, CODE_C, FNC1, STOP = 104, 105, 100, 99, 102, 106


@dataclass(frozen=True)
class LabelCode:
    """One code on a label: the raw text a decoder should return and its symbology."""

    text: str
    symbology: str  # code128, gs1-128, datamatrix, qrcode, pdf417
    hri: str = ""  # GS1 element strings as "(01)...(10)..." for a GS1 DataMatrix


VARIABLE_AIS = {"10", "21", "22", "240", "241", "400", "401", "90"}


def gs1_element_strings(elements: list[tuple[str, str]]) -> tuple[str, str]:
    """Return (raw text with GS after variable-length fields, human-readable form) for AIs."""
    raw, hri = "", ""
    for n, (ai, value) in enumerate(elements):
        raw += ai + value
        if ai in VARIABLE_AIS and n < len(elements) - 1:
            raw += GS
        hri += f"({ai}){value}"
    return raw, hri


def s10_number(rng: random.Random, prefix: str = "", country: str = "") -> str:
    """Return a UPU S10 item identifier with a valid mod-11 check digit."""
    prefix = prefix or rng.choice(["RR", "CP", "EE", "LX", "HA", "HB"])
    serial = f"{rng.randrange(10**8):08d}"
    total = sum(int(d) * w for d, w in zip(serial, S10_WEIGHTS, strict=True))
    check = 11 - total % 11
    check = 0 if check == 10 else 5 if check == 11 else check
    return f"{prefix}{serial}{check}{country or rng.choice(['GB', 'DE', 'FR', 'NL', 'SE'])}"


def gs1_check_digit(digits: str) -> int:
    """Return the GS1 mod-10 check digit for a digit string (without its check digit)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def sscc_number(rng: random.Random) -> str:
    """Return an 18-digit SSCC (extension digit, company prefix, serial, check digit)."""
    body = str(rng.randrange(10)) + f"{rng.randrange(10**16):016d}"
    return body + str(gs1_check_digit(body))


def _code128_values(text: str, gs1: bool) -> list[int]:
    """Encode text as Code 128 values (set C for digit pairs, set B otherwise); GS means FNC1."""
    values: list[int] = []
    current = None
    i = 0
    if gs1:
        text = GS + text
    while i < len(text):
        if text[i] == GS:
            if current is None:
                digits = _digit_run(text, i + 1)
                current = "C" if digits >= 2 else "B"
                values.append(START_C if current == "C" else START_B)
            values.append(FNC1)
            i += 1
            continue
        digits = _digit_run(text, i)
        want = "C" if digits >= 4 or (digits >= 2 and current == "C") else "B"
        if digits % 2 and want == "C" and current != "C":
            want = "B"  # odd run: one digit in B first, then pairs in C
        if want != current:
            if current is None:
                values.append(START_C if want == "C" else START_B)
            else:
                values.append(CODE_C if want == "C" else CODE_B)
            current = want
        if current == "C":
            values.append(int(text[i : i + 2]))
            i += 2
        else:
            values.append(ord(text[i]) - 32)
            i += 1
    check = values[0] + sum(pos * v for pos, v in enumerate(values[1:], start=1))
    return [*values, check % 103, STOP]


def _digit_run(text: str, start: int) -> int:
    """Count consecutive digits from start."""
    end = start
    while end < len(text) and text[end].isdigit():
        end += 1
    return end - start


def code128_modules(text: str, gs1: bool = False) -> np.ndarray:
    """Return the Code 128 symbol as a row of modules (1 = bar), with 10-module quiet zones."""
    row = [0] * 10
    for value in _code128_values(text, gs1):
        for k, width in enumerate(_C128[value]):
            row += [1 - k % 2] * int(width)
    row += [0] * 10
    return np.array(row, np.uint8)


def render_code(code: LabelCode, module_px: int, bar_height_px: int = 0) -> np.ndarray:
    """Render one code as a white-background grayscale image with quiet zones."""
    if code.symbology in ("code128", "gs1-128"):
        row = code128_modules(code.text, gs1=code.symbology == "gs1-128")
        height = bar_height_px or 60 * module_px
        strip = np.where(row == 1, 0, 255).astype(np.uint8)
        return np.repeat(np.tile(strip, (height, 1)), module_px, axis=1)
    fmt = {
        "datamatrix": zxingcpp.BarcodeFormat.DataMatrix,
        "qrcode": zxingcpp.BarcodeFormat.QRCode,
        "pdf417": zxingcpp.BarcodeFormat.PDF417,
    }[code.symbology]
    if code.hri:
        symbol = zxingcpp.create_barcode(code.hri, fmt, gs1=True)
    else:
        symbol = zxingcpp.create_barcode(code.text, fmt)
    image = np.array(symbol.to_image(scale=1, add_quiet_zones=True), np.uint8)
    tall = 2 if code.symbology == "pdf417" else 1  # PDF417 rows read better at 4X height
    return cv2.resize(
        image, None, fx=module_px, fy=module_px * tall, interpolation=cv2.INTER_NEAREST
    )


def random_label_codes(rng: random.Random) -> list[LabelCode]:
    """Pick the codes of one parcel label: an S10 or SSCC Code 128, sometimes a 2D code."""
    kind = rng.choice(["s10", "sscc", "gs1", "s10"])
    if kind == "s10":
        s10 = s10_number(rng)
        codes = [LabelCode(s10, "code128")]
        second = rng.choice(["qrcode", "datamatrix", "pdf417", ""])
        if second:
            codes.append(LabelCode(s10 if second != "pdf417" else f"{s10} DOCK PARCEL", second))
        return codes
    sscc = sscc_number(rng)
    if kind == "sscc":
        return [LabelCode("00" + sscc, "gs1-128")]
    gtin = "0" + f"{rng.randrange(10**12):012d}"
    gtin += str(gs1_check_digit(gtin))
    batch = f"B{rng.randrange(10**5):05d}"
    raw, hri = gs1_element_strings(
        [("01", gtin), ("10", batch), ("21", f"{rng.randrange(10**6):06d}")]
    )
    return [
        LabelCode(f"00{sscc}", "gs1-128"),
        LabelCode(raw, "datamatrix", hri),
    ]


Box = tuple[int, int, int, int]


def render_label(codes: list[LabelCode], module_px: int = 4) -> tuple[np.ndarray, list[Box]]:
    """Lay out codes top to bottom on a white label; return it and each code's (x, y, w, h)."""
    parts = []
    for code in codes:
        scale = module_px if code.symbology in ("code128", "gs1-128") else module_px + 2
        parts.append(render_code(code, scale, bar_height_px=40 * module_px))
    width = max(p.shape[1] for p in parts) + 40
    gap = 16 * module_px
    height = sum(p.shape[0] for p in parts) + gap * (len(parts) + 1) + 30
    label = np.full((height, width), 250, np.uint8)
    cv2.rectangle(label, (3, 3), (width - 4, height - 4), 60, 2)
    y = gap
    boxes: list[Box] = []
    for part, code in zip(parts, codes, strict=True):
        x = (width - part.shape[1]) // 2
        label[y : y + part.shape[0], x : x + part.shape[1]] = part
        boxes.append((x, y, part.shape[1], part.shape[0]))
        y += part.shape[0]
        caption = code.text.replace(GS, " ")[:40]
        cv2.putText(label, caption, (x + 10, y + 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, 30, 2)
        y += gap
    return label, boxes
