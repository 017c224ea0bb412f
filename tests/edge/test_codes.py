"""Code classification and check digits against published vectors."""

import pytest

from dockscan.codes import CodeClassifier, GS1Error, mod10_ok, parse_gs1, s10_ok, s10_with_check
from dockscan.errors import ConfigError

CLASSIFIER = CodeClassifier({"cainiao": r"LP\d{14}", "yun": r"YT\d{16}"})


@pytest.mark.parametrize(
    "code", ["RR123456785CN", "AA473124829GB", "EE000000005US", "CP123456706DE", "LX100000003CN"]
)
def test_valid_s10_vectors(code: str) -> None:
    info = CLASSIFIER.classify(code)
    assert (info.kind, info.check_ok, info.value) == ("upu_s10", True, code)


def test_s10_with_wrong_check_digit_fails() -> None:
    for wrong in "0123456789":
        if wrong != "5":
            assert CLASSIFIER.classify(f"RR12345678{wrong}CN").check_ok is False


def test_s10_with_check_makes_valid_codes() -> None:
    for serial in (0, 1, 12345678, 99999999, 4711):
        assert s10_ok(s10_with_check("LX", serial, "DE"))


def test_ups_1z() -> None:
    assert CLASSIFIER.classify("1Z999AA10123456784").check_ok is True
    bad = CLASSIFIER.classify("1Z999AA10123456785")
    assert (bad.kind, bad.check_ok) == ("ups_1z", False)


def test_sscc_with_aim_prefix() -> None:
    info = CLASSIFIER.classify("]C100095287654321012346", "code128")
    assert (info.kind, info.check_ok, info.value) == ("sscc", True, "095287654321012346")


def test_sscc_bad_check_digit_is_invalid() -> None:
    info = CLASSIFIER.classify("]C100095287654321012345", "code128")
    assert (info.kind, info.check_ok) == ("sscc", False)
    assert "AI (00)" in info.reason


def test_gs1_variable_field_terminated_by_gs() -> None:
    info = CLASSIFIER.classify("]C142094043\x1d00095287654321012346", "gs1-128")
    assert info.kind == "sscc" and info.check_ok is True
    assert info.fields == {"420": "94043", "00": "095287654321012346"}


def test_gs1_without_check_digit_field() -> None:
    info = CLASSIFIER.classify("]C142127610115")
    assert (info.kind, info.check_ok, info.fields) == ("gs1", None, {"421": "27610115"})


def test_gtin_checked_in_datamatrix() -> None:
    good = CLASSIFIER.classify("]d20195012345678903\x1d10ABC1\x1d17251231", "datamatrix")
    assert good.kind == "gs1" and good.check_ok is True
    assert good.fields == {"01": "95012345678903", "10": "ABC1", "17": "251231"}
    bad = CLASSIFIER.classify("]d20195012345678904\x1d10ABC1", "datamatrix")
    assert bad.check_ok is False


def test_malformed_gs1_is_invalid_not_a_crash() -> None:
    for text in ["]C1001234", "]C199", "]C10195012345678903\x1d0195012345678903", "]C1ZZ12"]:
        assert CLASSIFIER.classify(text).check_ok is False, text
    with pytest.raises(GS1Error):
        parse_gs1("4021234")


def test_site_patterns_and_unknown() -> None:
    assert CLASSIFIER.classify("LP12345678901234").kind == "carrier:cainiao"
    assert CLASSIFIER.classify("YT1234567890123456").kind == "carrier:yun"
    info = CLASSIFIER.classify("<script>alert(1)</script>")
    assert (info.kind, info.check_ok) == ("unknown", None)


@pytest.mark.parametrize("regex", ["(unclosed", "a{99999999999}", "(?:" * 2000 + "x" + ")" * 2000])
def test_bad_site_pattern_names_the_key(regex: str) -> None:
    with pytest.raises(ConfigError, match=r"code_patterns\.broken"):
        CodeClassifier({"broken": regex})


def test_mod10() -> None:
    assert mod10_ok("4006381333931")  # EAN-13
    assert not mod10_ok("4006381333932")
    assert not mod10_ok("12a4")


def test_barcode_model_keeps_raw_text() -> None:
    code, info = CLASSIFIER.barcode("]C100095287654321012346", "gs1-128", "scanner1")
    assert code.text == "]C100095287654321012346"
    assert (code.kind, code.check_ok, code.source) == ("sscc", True, "scanner1")
    assert info.is_parcel_id
