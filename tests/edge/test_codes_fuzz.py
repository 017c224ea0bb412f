"""Fuzz the code classifier: any text is classified without raising, consistently with its kind."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockscan.codes import GS, PARCEL_ID_KINDS, CodeClassifier, CodeInfo, mod10_ok, s10_ok
from dockscan.events import Barcode
from edge.devices.scanner import decode_code, split_aim

CLASSIFIER = CodeClassifier({"cainiao": r"LP\d{14}", "digits": r"\d{6,12}"})
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ALWAYS_CHECKED = ("upu_s10", "ups_1z", "sscc")  # check_ok is True or False, never None
AIMS = st.sampled_from(["", "]C1", "]d2", "]Q3", "]e0", "]J1", "]C0", "]E0", "]X9"])
SYMBOLOGIES = st.sampled_from(["", "code128", "gs1-128", "datamatrix", "qrcode", "ean13"])
digits = st.text("0123456789", min_size=1, max_size=24)
# Text shaped like parcel codes, GS1 element strings and site patterns, plus anything at all.
code_like = st.one_of(
    st.text(max_size=120),
    st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" + GS, max_size=60),
    st.tuples(AIMS, st.lists(digits | st.just(GS), max_size=6).map("".join)).map("".join),
    st.from_regex(r"[A-Z]{2}\d{9}[A-Z]{2}|1Z[0-9A-Z]{16}|LP\d{14}|00\d{18}", fullmatch=True),
)


def check_consistent(info: CodeInfo, text: str) -> None:
    """Assert the invariants every classification keeps."""
    assert isinstance(info.kind, str) and info.kind
    if info.kind in ALWAYS_CHECKED:
        assert info.check_ok in (True, False)
    elif info.kind == "gs1":
        assert info.check_ok in (True, False, None)
    else:
        assert info.kind == "unknown" or info.kind.startswith("carrier:")
        assert info.check_ok is None
    assert bool(info.reason) == (info.check_ok is False), info  # every failed check says why
    assert info.is_parcel_id == (info.kind in PARCEL_ID_KINDS or info.kind.startswith("carrier"))
    if info.kind == "sscc":
        assert len(info.fields["00"]) == 18 and info.value == info.fields["00"]
    else:
        assert info.value in (text, text[3:])  # as read, or without its AIM prefix


@FUZZ
@given(code_like, SYMBOLOGIES | st.text(max_size=40))
def test_any_text_is_classified_consistently(text: str, symbology: str) -> None:
    check_consistent(CLASSIFIER.classify(text, symbology), text)


@FUZZ
@given(st.binary(max_size=200), st.text(max_size=80))
def test_scanned_bytes_become_a_valid_barcode(payload: bytes, source: str) -> None:
    """Whatever a scanner sends, decoded as the scanner does, makes a contract-valid Barcode."""
    text, _ = decode_code(payload)
    symbology, code = split_aim(text)
    barcode, info = CLASSIFIER.barcode(code, symbology, source)
    check_consistent(info, code)
    assert (barcode.kind, barcode.check_ok) == (info.kind, info.check_ok)
    assert Barcode.model_validate_json(barcode.to_json()) == barcode


@FUZZ
@given(
    st.from_regex(r"[A-Z]{2}", fullmatch=True),
    st.text("0123456789", min_size=8, max_size=8),
    st.from_regex(r"[A-Z]{2}", fullmatch=True),
    AIMS,
)
def test_exactly_one_s10_check_digit_passes(
    prefix: str, serial: str, country: str, aim: str
) -> None:
    verdicts = []
    for check in "0123456789":
        info = CLASSIFIER.classify(f"{aim}{prefix}{serial}{check}{country}")
        check_consistent(info, f"{aim}{prefix}{serial}{check}{country}")
        assert info.kind == "upu_s10" and info.value == f"{prefix}{serial}{check}{country}"
        assert info.check_ok == s10_ok(info.value)
        verdicts.append(info.check_ok)
    assert verdicts.count(True) == 1


@FUZZ
@given(st.text("0123456789", min_size=17, max_size=17), st.sampled_from(["]C1", "]d2", GS, ""]))
def test_exactly_one_sscc_check_digit_passes(body: str, lead: str) -> None:
    verdicts = []
    for check in "0123456789":
        info = CLASSIFIER.classify(f"{lead}00{body}{check}", "gs1-128")
        assert (info.kind, info.value) == ("sscc", body + check)
        assert info.check_ok == mod10_ok(body + check)
        assert (info.reason == "check digit failed in AI (00)") == (info.check_ok is False)
        verdicts.append(info.check_ok)
    assert verdicts.count(True) == 1


@FUZZ
@given(
    st.text("0123456789", min_size=13, max_size=13),
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=20),
)
def test_gs1_fields_split_and_check(gtin_body: str, batch: str) -> None:
    for check in "0123456789":
        text = f"]d201{gtin_body}{check}10{batch}{GS}17251231"
        info = CLASSIFIER.classify(text, "datamatrix")
        check_consistent(info, text)
        assert info.fields == {"01": gtin_body + check, "10": batch, "17": "251231"}
        assert info.check_ok == mod10_ok(gtin_body + check)
