"""Check a manifest line quickly when it is plainly good; model.parse_line decides the rest.

`LineChecker.fast` takes a line only when every field has its common form (an S10 or SSCC
id, plain decimal numbers, ASCII codes) and gives exactly the values parse_line would; any doubt
(a field not ASCII, a lower-case code, a failing check) returns None, and `check` then runs
parse_line, which decides with the reason and in its own order of checks. A line comes as the
values of MANIFEST_FIELDS in order, '' for a field the file does not give.
"""

import re

from dockscan.codes import CodeClassifier
from dockscan.config import MANIFEST_FIELDS
from gateway.manifests import model
from gateway.manifests.iso import COUNTRIES, CURRENCIES
from gateway.manifests.model import Invalid

S10_SHAPE = re.compile(r"[A-Z]{2}[0-9]{9}[A-Z]{2}").fullmatch
SSCC_SHAPE = re.compile(r"(?:00)?([0-9]{18})").fullmatch
MAX_KG_TEXT = 15  # at most 14 digits: float and Decimal then order the same against MAX_KG
MAX_VALUE_DIGITS = 12  # below 1e12
ZERO = ord("0")

# A checked line as stored: (tracking_id, line_no, tracking_raw, tracking_kind, declared_kg,
# hawb, bag, declared_value, currency, ioss, country, hs_code, description).
Checked = tuple


def s10_ok(code: str) -> bool:
    """Check the mod-11 digit of an S10 id already known to be AA + 9 ASCII digits + AA."""
    b = code.encode()
    total = (8 * b[2] + 6 * b[3] + 4 * b[4] + 2 * b[5] + 3 * b[6] + 5 * b[7] + 9 * b[8]
             + 7 * b[9] - 44 * ZERO)  # fmt: skip
    check = 11 - total % 11
    return (0 if check == 10 else 5 if check == 11 else check) == b[10] - ZERO


def sscc_ok(digits: str) -> bool:
    """Check the GS1 mod-10 digit of 18 ASCII digits."""
    b = digits.encode()
    three, one = b[-2::-2], b[-3::-2]  # weights 3 and 1, from the right of the body
    total = 3 * (sum(three) - ZERO * len(three)) + sum(one) - ZERO * len(one)
    return (10 - total % 10) % 10 == b[-1] - ZERO


def tracking(raw: str) -> tuple[str, str] | None:
    """Return (id, kind) of a bare S10 or SSCC (with or without AI 00), else None."""
    if S10_SHAPE(raw):
        return (raw, "upu_s10") if s10_ok(raw) else None
    sscc = SSCC_SHAPE(raw)
    if sscc and sscc_ok(digits := sscc.group(1)):
        return digits, "sscc"
    return None


def kg(text: str) -> float | None:
    """Return a weight written as plain digits with a point or a decimal comma, else None."""
    if "," in text:
        if "." in text or text.count(",") > 1:
            return None
        text = text.replace(",", ".")
    if len(text) > MAX_KG_TEXT or not text.replace(".", "", 1).isdigit():
        return None
    weight = float(text)
    return round(weight, 3) if 0 < weight <= model.MAX_KG else None


def value(text: str) -> str | None:
    """Return a value of digits with up to 4 decimals as parse_line writes it, else None."""
    whole, _, cents = text.partition(".")
    if not whole.isdigit() or (cents and not (len(cents) <= 4 and cents.isdigit())):
        return None
    whole, cents = whole.lstrip("0") or "0", cents.rstrip("0")
    if len(whole) > MAX_VALUE_DIGITS:
        return None
    return f"{whole}.{cents}" if cents else whole


def hs(text: str) -> str | None:
    """Return an HS code of 6-10 ASCII digits, dots dropped, else None."""
    code = text.replace(".", "")
    return code if code.isdigit() and 6 <= len(code) <= 10 else None


def label(text: str) -> bool:
    """Return whether an ASCII text is a HAWB or bag number (1-64 printable, no space)."""
    return len(text) <= 64 and text.isprintable() and " " not in text


class LineChecker:
    """Checks lines, quickly for the common case; parse_line for the rest."""

    def __init__(self, classifier: CodeClassifier) -> None:
        self.classifier = classifier

    def check(self, line_no: int, values: tuple[str, ...]) -> Checked:
        """Return the checked line, or raise Invalid as parse_line does."""
        got = self.fast(line_no, values)
        if got is not None:
            return got
        line = model.parse_line(
            line_no, dict(zip(MANIFEST_FIELDS, values, strict=True)), self.classifier
        )
        return (line.tracking_id, line_no, *line.values())

    def known_id(self, raw: str) -> str | None:
        """Return the normalised id of a rejected line when its tracking id itself is fine."""
        found = tracking(raw.strip())
        if found is not None:
            return found[0]
        try:
            return model.parse_line(0, {"tracking_id": raw}, self.classifier).tracking_id
        except Invalid:
            return None

    def fast(self, line_no: int, values: tuple[str, ...]) -> Checked | None:
        """Return the checked line when every field has its common form, else None."""
        whole = "".join(values)
        if "\x00" in whole or not (whole.isascii() or _text_but_description(values)):
            return None
        raw, weight, hawb, bag, amount, currency, ioss, country, hs_code, description = [
            text.strip() or None for text in values
        ]
        if raw is None or (found := tracking(raw)) is None:
            return None
        if weight is not None and (weight := kg(weight)) is None:
            return None
        if amount is not None and (currency is None or (amount := value(amount)) is None):
            return None
        if currency is not None and (currency := currency.upper()) not in CURRENCIES:
            return None
        if (hawb is not None and not label(hawb)) or (bag is not None and not label(bag)):
            return None
        if ioss is not None and not (len(ioss) == 12 and ioss[:2] == "IM" and ioss[2:].isdigit()):
            return None
        if country is not None and (country := country.upper()) not in COUNTRIES:
            return None
        if hs_code is not None and (hs_code := hs(hs_code)) is None:
            return None
        if description is not None and len(description) > model.MAX_DESCRIPTION:
            return None
        return (found[0], line_no, raw, found[1], weight, hawb, bag, amount, currency, ioss,
                country, hs_code, description)  # fmt: skip


def _text_but_description(values: tuple[str, ...]) -> bool:
    """Return whether only the description is not ASCII, and it is valid UTF-8."""
    if not "".join(values[:-1]).isascii():
        return False
    try:
        values[-1].encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
