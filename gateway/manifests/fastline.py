"""Check a manifest line quickly when it is plainly good; model.parse_line decides the rest.

`LineChecker.fast` matches the whole line, its fields joined by a unit separator, against one
pattern of the common forms (an S10 or SSCC id, plain decimals, ASCII codes, no stray
whitespace), then checks digits and ranges; it gives exactly the values parse_line would. Any
doubt returns None and `check` runs parse_line, which decides with the reason and in its own
order of checks. A line comes as the values of MANIFEST_FIELDS in order, '' for a field the file
does not give.
"""

import re

from dockscan.codes import CodeClassifier
from dockscan.config import MANIFEST_FIELDS
from gateway.manifests import model
from gateway.manifests.iso import COUNTRIES, CURRENCIES
from gateway.manifests.model import Invalid

SEPARATOR = "\x1f"  # no field of the common form holds it, so fields cannot shift
COMMON = re.compile(
    r"(?:(?P<s10>[A-Z]{2}[0-9]{9}[A-Z]{2})|(?:\(00\) ?|00)?(?P<sscc>[0-9]{18}))\x1f"
    r"(?P<kg>[0-9]{1,14}(?:[.,][0-9]{0,3})?)?\x1f"
    r"(?P<hawb>[!-~]{1,64})?\x1f"
    r"(?P<bag>[!-~]{1,64})?\x1f"
    r"(?:0*(?P<units>[0-9]{1,12})(?:\.(?P<decimals>[0-9]{0,4}))?)?\x1f"
    r"(?P<currency>[A-Za-z]{3})?\x1f"
    r"(?P<ioss>IM[0-9]{10})?\x1f"
    r"(?P<country>[A-Za-z]{2})?\x1f"
    r"(?P<hs_code>[0-9.]{6,14})?\x1f"
    r"(?P<description>[^\x00\x1f]*)"
).fullmatch
ZERO = ord("0")

# A checked line as its INSERT takes it (store.INSERT_LINE_SQL): (manifest_id, tracking_id,
# line_no, tracking_raw, tracking_kind, declared_kg, hawb, bag, declared_value, currency, ioss,
# country, hs_code, description, import_id, updated_ms).
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


class LineChecker:
    """Checks lines, quickly for the common case; parse_line for the rest."""

    def __init__(self, classifier: CodeClassifier) -> None:
        self.classifier = classifier
        self.manifest_id, self.import_id, self.now = "", 0, 0

    def stamp(self, manifest_id: str, import_id: int, now: int) -> None:
        """Set the import the checked lines are for (their row's first and last values)."""
        self.manifest_id, self.import_id, self.now = manifest_id, import_id, now

    def check(self, line_no: int, values: tuple[str, ...]) -> Checked:
        """Return the checked line, or raise Invalid as parse_line does."""
        got = self.fast(line_no, values)
        if got is not None:
            return got
        line = model.parse_line(line_no, dict(zip(MANIFEST_FIELDS, values, strict=True)),
                                self.classifier)  # fmt: skip
        return (self.manifest_id, line.tracking_id, line_no, *line.values(), self.import_id,
                self.now)  # fmt: skip

    def known_id(self, raw: str) -> str | None:
        """Return the normalised id of a rejected line when its tracking id itself is fine."""
        try:
            return model.parse_line(0, {"tracking_id": raw}, self.classifier).tracking_id
        except Invalid:
            return None

    def fast(self, line_no: int, values: tuple[str, ...]) -> Checked | None:
        """Return the checked line when every field has its common form, else None."""
        joined = SEPARATOR.join(values)
        m = COMMON(joined)
        if m is None or not (joined.isascii() or _utf8(values[-1])):
            return None
        s10, sscc, kg, hawb, bag, units, decimals, currency, ioss, country, hs_code, text = (
            m.groups()
        )
        if s10 is not None:
            if not s10_ok(s10):
                return None
            tracking, kind = s10, "upu_s10"
        elif sscc_ok(sscc):
            tracking, kind = sscc, "sscc"
        else:
            return None
        if kg is not None:  # at most 3 decimals: the float is parse_line's, rounded to 3
            kg = float(kg.replace(",", "."))
            if not 0 < kg <= model.MAX_KG:
                return None
        value = None
        if units is not None:
            if currency is None:
                return None
            decimals = decimals.rstrip("0") if decimals else ""
            value = f"{units}.{decimals}" if decimals else units
        if currency is not None and (currency := currency.upper()) not in CURRENCIES:
            return None
        if country is not None and (country := country.upper()) not in COUNTRIES:
            return None
        if hs_code is not None:
            hs_code = hs_code.replace(".", "")
            if len(hs_code) < 6 or len(hs_code) > 10:
                return None
        description = text.strip() or None
        if description is not None and len(description) > model.MAX_DESCRIPTION:
            return None
        return (
            self.manifest_id, tracking, line_no, values[0], kind, kg, hawb, bag, value, currency,
            ioss, country, hs_code, description, self.import_id, self.now,
        )  # fmt: skip


def _utf8(text: str) -> bool:
    """Return whether a text read with surrogateescape came from valid UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
