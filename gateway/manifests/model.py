"""What a manifest and its lines may hold: the unit's header and each line's checked values."""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from dockscan.codes import CodeClassifier, tracking_id
from dockscan.errors import DockscanError
from gateway.manifests.iso import COUNTRIES, CURRENCIES

KINDS = ("flight", "mawb", "uld", "bag")
MAWB = re.compile(r"^(\d{3})-?(\d{8})$")
ULD = re.compile(r"^[A-Z]{3}\d{4,5}[A-Z0-9]{2}$")
FLIGHT = re.compile(r"^([A-Z0-9]{2}|[A-Z]{3})(\d{1,4})([A-Z]?)$")
IOSS = re.compile(r"^IM\d{10}$")
HS_CODE = re.compile(r"^\d{6,10}$")
MANIFEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$")
PARCEL_ID = re.compile(r"^[\x21-\x7e]{3,64}$")
LABEL = re.compile(r"^[\x21-\x7e]{1,64}$")  # HAWB and bag numbers
CHECKED_KINDS = ("upu_s10", "sscc", "ups_1z")
MAX_KG = 10_000.0
MAX_VALUE = Decimal("1e12")
MAX_DESCRIPTION = 1000
MAX_RAW_ID = 200


class ManifestError(DockscanError):
    """A manifest header or file that cannot be imported at all."""


class ManifestClosed(ManifestError):
    """The manifest is closed: no file may change its lines, so its close-out report stands."""

    exit_code = 4


class Invalid(ValueError):
    """One field of one line is wrong: `field` names it, the message says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


@dataclass(frozen=True)
class Header:
    """The inbound unit a manifest describes."""

    id: str
    kind: str
    reference: str
    carrier: str | None = None
    flight: str | None = None
    flight_date: str | None = None
    mawb: str | None = None
    uld: str | None = None
    bag: str | None = None


@dataclass(frozen=True)
class Line:
    """One expected parcel, every value checked and normalised."""

    line_no: int
    tracking_id: str
    tracking_raw: str
    tracking_kind: str
    declared_kg: float | None = None
    hawb: str | None = None
    bag: str | None = None
    declared_value: str | None = None
    currency: str | None = None
    ioss: str | None = None
    country: str | None = None
    hs_code: str | None = None
    description: str | None = None

    def values(self) -> tuple:
        """Return the stored values that a corrected file may change (not the line number)."""
        return (
            self.tracking_raw, self.tracking_kind, self.declared_kg, self.hawb, self.bag,
            self.declared_value, self.currency, self.ioss, self.country, self.hs_code,
            self.description,
        )  # fmt: skip


def mawb_ok(number: str) -> bool:
    """Check a master air waybill's check digit: the first seven serial digits mod 7."""
    m = MAWB.match(number)
    return bool(m) and int(m.group(2)[:7]) % 7 == int(m.group(2)[7])


def parse_mawb(text: str) -> str:
    """Return a MAWB as NNN-NNNNNNNN, or raise Invalid."""
    code = "".join(text.split())
    m = MAWB.match(code)
    if not m:
        raise Invalid("mawb", f"{_show(text)} is not a MAWB number (NNN-NNNNNNNN)")
    if not mawb_ok(code):
        raise Invalid("mawb", f"{_show(text)}: check digit wrong (7 serial digits mod 7)")
    return f"{m.group(1)}-{m.group(2)}"


def parse_uld(text: str) -> str:
    """Return a ULD id such as AKE12345CZ (type, serial, owner), or raise Invalid."""
    code = re.sub(r"[\s-]", "", text).upper()
    if not ULD.match(code):
        raise Invalid("uld", f"{_show(text)} is not a ULD id (3 letters, 4-5 digits, owner)")
    return code


def parse_flight(text: str) -> tuple[str, str]:
    """Return (carrier, flight) such as ("LH", "LH8400"), or raise Invalid."""
    m = FLIGHT.match("".join(text.split()).upper())
    if not m:
        raise Invalid("flight", f"{_show(text)} is not a flight number such as LH8400")
    return m.group(1), f"{m.group(1)}{int(m.group(2))}{m.group(3)}"


def parse_date(text: str) -> str:
    """Return a flight date as YYYY-MM-DD, or raise Invalid."""
    try:
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise Invalid("flight_date", f"{_show(text)} is not a date (YYYY-MM-DD)") from None


def make_header(
    kind: str | None = None,
    manifest_id: str | None = None,
    *,
    carrier: str | None = None,
    flight: str | None = None,
    flight_date: str | None = None,
    mawb: str | None = None,
    uld: str | None = None,
    bag: str | None = None,
) -> Header:
    """Check the unit's identifiers and derive its kind, reference and id."""
    given = [k for k, v in (("flight", flight), ("mawb", mawb), ("uld", uld), ("bag", bag)) if v]
    if kind is None:
        if len(given) != 1:
            raise ManifestError("say --kind, or give exactly one of --flight, --mawb, --uld, --bag")
        kind = given[0]
    if kind not in KINDS:
        raise ManifestError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    try:
        flight_carrier = None
        if flight:
            flight_carrier, flight = parse_flight(flight)
        flight_date = parse_date(flight_date) if flight_date else None
        mawb = parse_mawb(mawb) if mawb else None
        uld = parse_uld(uld) if uld else None
        if bag is not None and not LABEL.match(bag.strip()):
            raise Invalid("bag", f"{_show(bag)} is not a bag id (1-64 printable characters)")
        bag = bag.strip() if bag else None
        if carrier is not None and not re.match(r"^[A-Z0-9]{2,3}$", carrier.strip().upper()):
            raise Invalid("carrier", f"{_show(carrier)} is not an IATA or ICAO carrier code")
    except Invalid as exc:
        raise ManifestError(f"--{exc.field.replace('_', '-')}: {exc.reason}") from None
    carrier = carrier.strip().upper() if carrier else flight_carrier
    if kind == "flight":
        if not flight or not flight_date:
            raise ManifestError("a flight manifest needs --flight and --flight-date")
        reference = f"{flight}/{flight_date}"
    else:
        reference = {"mawb": mawb, "uld": uld, "bag": bag}[kind] or ""
        if not reference:
            raise ManifestError(f"a {kind} manifest needs --{kind}")
    manifest_id = manifest_id or f"{kind}:{reference}"
    if not MANIFEST_ID.match(manifest_id):
        raise ManifestError(
            f"--manifest-id {_show(manifest_id)}: use 1-100 of A-Z a-z 0-9 . _ : / -"
        )
    return Header(manifest_id, kind, reference, carrier, flight, flight_date, mawb, uld, bag)


def parse_line(line_no: int, raw: dict[str, str | None], classifier: CodeClassifier) -> Line:
    """Check one line's fields (text as read) and return the Line, or raise Invalid."""
    fields = {k: _text(k, v) for k, v in raw.items()}
    raw_id = fields.get("tracking_id")
    if not raw_id:
        raise Invalid("tracking_id", "missing")
    if len(raw_id) > MAX_RAW_ID:
        raise Invalid("tracking_id", f"longer than {MAX_RAW_ID} characters")
    info = tracking_id(raw_id, classifier)
    if info.kind in CHECKED_KINDS and info.check_ok is False:
        raise Invalid("tracking_id", f"{_show(raw_id)}: {info.reason}")
    if info.kind == "gs1":
        raise Invalid("tracking_id", f"{_show(raw_id)}: a GS1 code without an SSCC (AI 00)")
    if not PARCEL_ID.match(info.value):
        raise Invalid("tracking_id", f"{_show(raw_id)}: not 3-64 printable ASCII characters")
    value, currency = _value(fields.get("declared_value")), fields.get("currency")
    if currency is not None:
        currency = currency.upper()
        if currency not in CURRENCIES:
            raise Invalid("currency", f"{_show(currency)} is not an ISO 4217 currency code")
    if value is not None and currency is None:
        raise Invalid("currency", "missing: a declared value needs its currency")
    return Line(
        line_no=line_no,
        tracking_id=info.value,
        tracking_raw=raw_id,
        tracking_kind=info.kind,
        declared_kg=_kg(fields.get("declared_kg")),
        hawb=_label("hawb", fields.get("hawb")),
        bag=_label("bag", fields.get("bag")),
        declared_value=value,
        currency=currency,
        ioss=_match("ioss", fields.get("ioss"), IOSS, "an IOSS number (IM + 10 digits)"),
        country=_country(fields.get("country")),
        hs_code=_hs(fields.get("hs_code")),
        description=_description(fields.get("description")),
    )


def _show(text: str) -> str:
    """Return a value for a message: quoted, and cut to 40 characters."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _text(field: str, value: str | None) -> str | None:
    """Return a field stripped (None when empty); refuse NUL and undecodable bytes."""
    if value is None:
        return None
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise Invalid(field, f"not valid UTF-8 (at character {exc.start})") from None
    if "\x00" in value:
        raise Invalid(field, "contains a NUL character")
    value = value.strip()
    return value or None


def _number(field: str, text: str) -> Decimal:
    """Parse a decimal written with a point or a decimal comma (no thousands separators)."""
    if "," in text:
        if "." in text or text.count(",") > 1:
            raise Invalid(field, f"{_show(text)}: write the number without thousands separators")
        text = text.replace(",", ".")
    if not re.match(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?$", text):
        raise Invalid(field, f"{_show(text)} is not a number")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise Invalid(field, f"{_show(text)} is not a number") from None


def _kg(text: str | None) -> float | None:
    """Return a declared gross weight in kg: above 0 and at most MAX_KG."""
    if text is None:
        return None
    number = _number("declared_kg", text.removesuffix("kg").removesuffix("KG").strip())
    if not 0 < number <= MAX_KG:
        raise Invalid("declared_kg", f"{_show(text)}: must be above 0 and at most {MAX_KG:g} kg")
    return round(float(number), 3)


def _value(text: str | None) -> str | None:
    """Return a declared value as exact decimal text (0 or more, below MAX_VALUE)."""
    if text is None:
        return None
    number = _number("declared_value", text)
    if not 0 <= number < MAX_VALUE:
        raise Invalid("declared_value", f"{_show(text)}: must be 0 or more and below 1e12")
    if number != number.quantize(Decimal("0.0001")):
        raise Invalid("declared_value", f"{_show(text)}: more than 4 decimals")
    return format(number.normalize(), "f") if number else "0"


def _label(field: str, text: str | None) -> str | None:
    """Return a HAWB or bag number: 1-64 printable ASCII characters."""
    if text is not None and not LABEL.match(text):
        raise Invalid(field, f"{_show(text)}: not 1-64 printable ASCII characters")
    return text


def _match(field: str, text: str | None, pattern: re.Pattern[str], what: str) -> str | None:
    """Return an upper-cased, space-free code that must match `pattern`."""
    if text is None:
        return None
    code = "".join(text.split()).upper()
    if not pattern.match(code):
        raise Invalid(field, f"{_show(text)} is not {what}")
    return code


def _country(text: str | None) -> str | None:
    """Return an ISO 3166-1 alpha-2 country code."""
    if text is not None and text.upper() not in COUNTRIES:
        raise Invalid("country", f"{_show(text)} is not an ISO 3166 alpha-2 country code")
    return text.upper() if text else None


def _hs(text: str | None) -> str | None:
    """Return an HS code as 6-10 digits (dots and spaces dropped)."""
    if text is None:
        return None
    return _match("hs_code", re.sub(r"[.\s]", "", text), HS_CODE, "an HS code (6-10 digits)")


def _description(text: str | None) -> str | None:
    """Return a description, stored as plain text (never interpreted), at most 1000 chars."""
    if text is not None and len(text) > MAX_DESCRIPTION:
        raise Invalid("description", f"longer than {MAX_DESCRIPTION} characters")
    return text
