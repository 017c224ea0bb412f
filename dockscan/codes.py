"""Classify and check parcel codes: UPU S10, GS1 element strings, UPS 1Z and site patterns."""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dockscan.errors import ConfigError

if TYPE_CHECKING:  # the contract's models load where a Barcode is made, not with the checks
    from dockscan.events import Barcode

GS = "\x1d"
S10 = re.compile(r"^[A-Z]{2}\d{9}[A-Z]{2}$")
UPS_1Z = re.compile(r"^1Z[0-9A-Z]{16}$")
AIM_GS1 = ("]C1", "]d2", "]Q3", "]e0", "]J1")
AIM_ANY = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
PARCEL_ID_KINDS = ("upu_s10", "sscc", "ups_1z")

# GS1 AI length by its first two digits; fixed data lengths (predefined-length AIs need no FNC1).
_AI_DIGITS = {
    **dict.fromkeys(["00", "01", "02", "10", "11", "12", "13", "15", "16", "17", "20"], 2),
    **dict.fromkeys(["21", "22", "30", "37", *[str(n) for n in range(90, 100)]], 2),
    **dict.fromkeys(["23", "24", "25", "40", "41", "42", "71"], 3),
    **dict.fromkeys(["31", "32", "33", "34", "35", "36", "39", "70", "80", "81", "82"], 4),
}
_PREDEFINED = {
    "00": 18, "01": 14, "02": 14, "11": 6, "12": 6, "13": 6, "15": 6, "16": 6, "17": 6,
    "20": 2, "31": 6, "32": 6, "33": 6, "34": 6, "35": 6, "36": 6, "41": 13,
}  # fmt: skip
_FIXED_OTHER = {"402": 17, "422": 3, "424": 3, "426": 3, "7001": 13, "8005": 6, "8006": 18}
_CHECKED = {"00", "01", "02", "402", "410", "411", "412", "413", "414", "415", "416", "417"}
_MAX_VARIABLE = 90


@dataclass(frozen=True)
class CodeInfo:
    """What a code is: its kind, whether its check digits hold, and parsed GS1 fields."""

    kind: str
    check_ok: bool | None
    value: str  # the code with any AIM prefix removed (the parcel id for id kinds)
    fields: dict[str, str] = field(default_factory=dict)
    reason: str = ""

    @property
    def is_parcel_id(self) -> bool:
        """Return whether this code identifies a parcel (not a product or routing code)."""
        return self.kind in PARCEL_ID_KINDS or self.kind.startswith("carrier")


def mod10_ok(digits: str) -> bool:
    """Check a GS1 mod-10 check digit (last digit) over an all-digit string."""
    if len(digits) < 2 or not digits.isdigit():
        return False
    body = digits[:-1]
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == int(digits[-1])


def s10_ok(code: str) -> bool:
    """Check the mod-11 check digit of a UPU S10 code such as RR123456785CN."""
    digits = code[2:10]
    total = sum(int(d) * w for d, w in zip(digits, S10_WEIGHTS, strict=True))
    check = 11 - total % 11
    check = {10: 0, 11: 5}.get(check, check)
    return check == int(code[10])


def s10_with_check(prefix: str, serial: int, country: str) -> str:
    """Return an S10 code for an 8-digit serial with its correct check digit."""
    digits = f"{serial % 100_000_000:08d}"
    for c in range(10):
        code = f"{prefix}{digits}{c}{country}"
        if s10_ok(code):
            return code
    raise ValueError("no S10 check digit fits")  # unreachable: mod 11 maps onto 0-9


def ups_ok(code: str) -> bool:
    """Check the check digit of a UPS 1Z tracking number."""
    body = code[2:-1]
    values = [int(c) if c.isdigit() else (ord(c) - 63) % 10 for c in body]
    total = sum(v * (2 if i % 2 else 1) for i, v in enumerate(values))
    return (10 - total % 10) % 10 == int(code[-1]) if code[-1].isdigit() else False


class GS1Error(ValueError):
    """A GS1 element string that does not parse."""


def parse_gs1(data: str) -> dict[str, str]:
    """Split a GS1 element string (FNC1 as \\x1d, no AIM prefix) into {AI: value}."""
    fields: dict[str, str] = {}
    pos = data.lstrip(GS)
    while pos:
        head = pos[:2]
        ai_len = _AI_DIGITS.get(head)
        if ai_len is None or len(pos) < ai_len or not pos[:ai_len].isdigit():
            raise GS1Error(f"unknown application identifier at {pos[:4]!r}")
        ai, rest = pos[:ai_len], pos[ai_len:]
        fixed = _PREDEFINED.get(head)
        if fixed is not None:
            value, pos = rest[:fixed], rest[fixed:]
            if len(value) != fixed:
                raise GS1Error(f"AI ({ai}) needs {fixed} characters, got {len(value)}")
        else:
            end = rest.find(GS)
            value, pos = (rest, "") if end < 0 else (rest[:end], rest[end:])
            want = _FIXED_OTHER.get(ai)
            if want is not None and len(value) != want:
                raise GS1Error(f"AI ({ai}) needs {want} characters, got {len(value)}")
            if not value or len(value) > _MAX_VARIABLE:
                raise GS1Error(f"AI ({ai}) has an empty or overlong value")
        if ai in fields:
            raise GS1Error(f"AI ({ai}) appears twice")
        fields[ai] = value
        pos = pos.lstrip(GS)
    return fields


def _looks_gs1(text: str, symbology: str) -> bool:
    """Return whether a code should be read as a GS1 element string."""
    if text.startswith(AIM_GS1) or symbology.startswith("gs1") or text.startswith(GS):
        return True
    return GS in text or bool(re.fullmatch(r"00\d{18}", text))


class CodeClassifier:
    """Classifies code text using the built-in formats and the station's site patterns."""

    def __init__(self, patterns: Mapping[str, str] | None = None, where: str = "code_patterns"):
        self.patterns: list[tuple[str, re.Pattern[str]]] = []
        for name, regex in (patterns or {}).items():
            try:
                self.patterns.append((name, re.compile(regex)))
            except (re.error, OverflowError, RecursionError) as exc:
                raise ConfigError("", f"{where}.{name}", f"bad regular expression: {exc}") from None

    def classify(self, text: str, symbology: str = "") -> CodeInfo:
        """Return the kind and check-digit verdict of one code."""
        value = text[3:] if AIM_ANY.match(text) else text
        if S10.match(value):
            ok = s10_ok(value)
            return CodeInfo("upu_s10", ok, value, reason="" if ok else "S10 mod-11 check failed")
        if UPS_1Z.match(value):
            ok = ups_ok(value)
            return CodeInfo("ups_1z", ok, value, reason="" if ok else "UPS check digit failed")
        if _looks_gs1(text, symbology):
            return self._gs1(value)
        for name, regex in self.patterns:
            if regex.fullmatch(value):
                return CodeInfo(f"carrier:{name}"[:32], None, value)
        return CodeInfo("unknown", None, value)

    def _gs1(self, value: str) -> CodeInfo:
        """Classify a GS1 element string: SSCC if AI 00 is present, else gs1."""
        try:
            fields = parse_gs1(value)
        except GS1Error as exc:
            return CodeInfo("gs1", False, value, reason=str(exc))
        bad = [ai for ai in fields if ai in _CHECKED and not mod10_ok(fields[ai])]
        checked = [ai for ai in fields if ai in _CHECKED]
        ok = None if not checked else not bad
        reason = f"check digit failed in AI ({bad[0]})" if bad else ""
        if "00" in fields:
            return CodeInfo("sscc", ok, fields["00"], fields, reason)
        return CodeInfo("gs1", ok, value, fields, reason)

    def barcode(self, text: str, symbology: str, source: str) -> "tuple[Barcode, CodeInfo]":
        """Return the contract Barcode for a read, and the classification behind it."""
        from dockscan.events import Barcode

        info = self.classify(text, symbology)
        code = Barcode(
            text=text[:4096],
            symbology=(symbology or "unknown")[:32],
            source=source[:64],
            kind=info.kind,
            check_ok=info.check_ok,
        )
        return code, info


SSCC_BARE = re.compile(r"^\d{18}$")
SPACES = re.compile(r"[^\S\x1d]+")  # white space, but not GS (Python counts it as space)
GS1_HRI = re.compile(r"\((\d{2,4})\)")


def tracking_id(text: str, classifier: CodeClassifier) -> CodeInfo:
    """Return what a code identifies, the same for a scan and a manifest line of one label.

    Spaces are dropped (labels print ids in groups; GS stays), an S10 or UPS id is upper-cased,
    the printed GS1 form `(00)…` loses its brackets and a bare 18-digit SSCC gains AI 00, so
    `(00) 3 4012345 000000001 7`, `00340123450000000017` and `340123450000000017` all give
    the SSCC `340123450000000017`; `CodeInfo.value` is the id to match on.
    """
    code, symbology = SPACES.sub("", text), ""
    if code.startswith("(") and GS1_HRI.match(code):
        code, symbology = GS1_HRI.sub(r"\1", code), "gs1-128"
    elif SSCC_BARE.match(code) and mod10_ok(code):
        code = "00" + code
    upper = code.upper()
    if S10.match(upper) or UPS_1Z.match(upper):
        code = upper
    return classifier.classify(code, symbology)
