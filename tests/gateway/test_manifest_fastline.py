"""The quick line check agrees with parse_line on every line, good or bad, and is used."""

import random

import pytest

from dockscan.codes import CodeClassifier, s10_with_check
from dockscan.config import MANIFEST_FIELDS
from gateway.manifests.fastline import LineChecker
from gateway.manifests.model import Invalid, parse_line

SITE = CodeClassifier({"dhl": r"JJD\d{10,}"})
S10 = s10_with_check("RR", 12345678, "CN")
SSCC = "340123450000000017"
CHOICES = {
    "tracking_id": [
        S10,
        S10.lower(),
        f" {S10} ",
        f"RR 123 456 78{S10[10]} CN",
        "RR123456784CN",
        SSCC,
        f"00{SSCC}",
        f"(00) {SSCC}",
        f"(00){SSCC}",
        "340123450000000018",
        "00340123450000000018",
        f"]C100{SSCC}",
        "1Z999AA10123456784",
        "JJD0012345678901",
        "AB",
        "",
        "  ",
        "R\x00R",
        "RR12345678\u0665CN",
        "x" * 201,
        "(01) 04012345000009",
        "\udcff" + S10,
    ],
    "declared_kg": [
        "",
        "1.5",
        "2,625",
        "0",
        "0.0001",
        "10000",
        "10000.0000000001",
        "20000",
        "-1",
        "+2",
        "1e3",
        ".5",
        "5.",
        ".",
        "1,234.5",
        "1,2,3",
        "nan",
        "inf",
        "2.5kg",
        " 3 ",
        "1_0",
        "\u0661.\u0665",
        "12345678901234.5",
        "99999999999999",
    ],
    "hawb": ["", "H1", "H 1", "H-1", "x" * 64, "x" * 65, "Hé", "+SUM(A1)", "\t"],
    "bag": ["", "B1", "CN-BAG-000001", "B\x00", "B\x7f"],
    "declared_value": [
        "",
        "10.00",
        "0012.50",
        "0",
        "0.00",
        "100",
        "1.23456",
        "1.23450",
        "12,50",
        "999999999999",
        "1000000000000",
        "-1",
        "1e2",
        "5.",
        ".5",
        "0.0001",
    ],
    "currency": ["", "EUR", "eur", " usd ", "EURO", "XXX", "ＥＵＲ"],
    "ioss": ["", "IM1234567890", "im1234567890", "IM 1234567890", "IM123", "IN1234567890"],
    "country": ["", "BE", "be", "XX", "BEL", "ＢＥ"],
    "hs_code": [
        "",
        "847130",
        "8471.30.00",
        "8471.3",
        "......",
        "1.2.3.4.5.6.7",
        "8471 30",
        "84713",
        "84713000001",
        "8471AB",
        "٨٤٧١٣٠",
    ],
    "description": [
        "",
        "item",
        "  laptop  ",
        "café",
        "商品",
        "x" * 1000,
        "x" * 1001,
        "bad \udcff byte",
        "nul\x00",
        '=HYPERLINK("x")',
        "<script>alert(1)</script>",
    ],
}

GOOD = (S10, "1.5", "H1", "B1", "10.00", "EUR", "IM1234567890", "BE", "847130", "item")


def outcome(run: object) -> tuple:
    """Return what a check gave: ("ok", values) or ("invalid", field, reason)."""
    try:
        got = run()  # type: ignore[operator]
    except Invalid as exc:
        return ("invalid", exc.field, exc.reason)
    return ("ok", got)


def reference(line_no: int, values: tuple[str, ...]) -> tuple:
    """Return parse_line's outcome as a checked tuple."""

    def run() -> tuple:
        line = parse_line(line_no, dict(zip(MANIFEST_FIELDS, values, strict=True)), SITE)
        return ("", line.tracking_id, line_no, *line.values(), 0, 0)

    return outcome(run)


@pytest.mark.parametrize("seed", range(4))
def test_check_agrees_with_parse_line(seed: int) -> None:
    rnd = random.Random(seed)
    checker = LineChecker(SITE)
    for line_no in range(2, 3000):
        values = tuple(
            rnd.choice(CHOICES[f]) if rnd.random() < 0.3 else good
            for f, good in zip(MANIFEST_FIELDS, GOOD, strict=True)
        )
        want = reference(line_no, values)
        assert outcome(lambda: checker.check(line_no, values)) == want, values  # noqa: B023
        quick = checker.fast(line_no, values)
        assert quick is None or ("ok", quick) == want, values


def test_every_choice_alone_agrees() -> None:
    checker = LineChecker(SITE)
    for i, name in enumerate(MANIFEST_FIELDS):
        for text in CHOICES[name]:
            values = (*GOOD[:i], text, *GOOD[i + 1 :])
            want = reference(7, values)
            assert outcome(lambda: checker.check(7, values)) == want, values  # noqa: B023


def test_common_lines_take_the_quick_path() -> None:
    checker = LineChecker(CodeClassifier())
    lines = [
        (S10, "2.625", "H007000000", "CN-BAG-000000", "93.60", "EUR", "IM1804765948", "BE",
         "851830", "bluetooth earphones"),
        (SSCC, "0,5", "", "", "5", "usd", "", "us", "9405.40", "LED strip 5m"),
        (f"00{SSCC}", "1", "", "", "", "", "", "", "", "café au lait"),
        (f"(00) {SSCC}", "", "", "", "0012.50", "EUR", "", "", "", " =1+2 "),
    ]  # fmt: skip
    for values in lines:
        assert checker.fast(3, values) is not None, values
    checker.stamp("bag:B1", 7, 1_764_000_000_000)
    assert checker.fast(3, lines[1]) == (
        "bag:B1", SSCC,
        3, SSCC, "sscc", 0.5, None, None, "5", "USD", None, "US", "940540", "LED strip 5m", 7,
        1_764_000_000_000,
    )  # fmt: skip


def test_known_id_of_a_rejected_line() -> None:
    checker = LineChecker(SITE)
    assert checker.known_id(f" {S10.lower()} ") == S10
    assert checker.known_id(f"(00) {SSCC}") == SSCC
    assert checker.known_id("JJD0012345678901") == "JJD0012345678901"
    assert checker.known_id("RR123456784CN") is None
    assert checker.known_id("") is None
