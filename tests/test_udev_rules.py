"""99-dockscan.rules uses only udev(7) keys and operators (bookworm has no `udevadm verify`)."""

import re
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[1] / "config" / "udev" / "99-dockscan.rules"
MATCH, ASSIGN = frozenset({"==", "!="}), frozenset({"=", "+=", "-=", ":="})
# Keys of udev(7) in systemd 252 and the operators each accepts.
KEYS: dict[str, frozenset[str]] = {
    **dict.fromkeys(
        ["ACTION", "DEVPATH", "KERNEL", "KERNELS", "SUBSYSTEM", "SUBSYSTEMS", "DRIVER", "DRIVERS"],
        MATCH,
    ),
    **dict.fromkeys(["ATTRS", "CONST", "TAGS", "TEST", "PROGRAM", "RESULT"], MATCH),
    **dict.fromkeys(["NAME", "ATTR", "SYSCTL"], MATCH | {"=", ":="}),
    **dict.fromkeys(["SYMLINK", "ENV", "TAG"], MATCH | ASSIGN),
    **dict.fromkeys(["OWNER", "GROUP", "MODE", "SECLABEL"], frozenset({"=", ":="})),
    **dict.fromkeys(["RUN", "OPTIONS"], ASSIGN),
    **dict.fromkeys(["LABEL", "GOTO", "IMPORT"], frozenset({"="})),
}
BRACED = {"ATTR", "ATTRS", "SYSCTL", "ENV", "CONST", "SECLABEL", "IMPORT"}
OPTIONAL_BRACE = {"TEST", "RUN"}
TOKEN = re.compile(r'\s*([A-Z]+)(\{[^{}"]+\})?\s*(==|!=|\+=|-=|:=|=)\s*e?"((?:[^"\\]|\\.)*)"\s*')


def rule_errors(line: str) -> list[str]:
    """Return what is wrong with one rule line; empty when it parses."""
    errors, pos = [], 0
    while pos < len(line):
        tok = TOKEN.match(line, pos)
        if tok is None:
            return [*errors, f"cannot parse at column {pos + 1}: {line[pos:][:30]!r}"]
        key, attr, op, value = tok.groups()
        if key not in KEYS:
            errors.append(f"unknown key {key}")
        elif op not in KEYS[key]:
            errors.append(f"{key} does not take {op}")
        elif (attr is None) == (key in BRACED) and key not in OPTIONAL_BRACE:
            errors.append(f"{key} {'needs' if attr is None else 'takes no'} {{...}}")
        if key == "MODE" and not re.fullmatch(r"0?[0-7]{3}", value):
            errors.append(f"MODE {value!r} is not octal")
        pos = tok.end()
        if pos < len(line):
            if line[pos] != ",":
                return [*errors, f"expected ',' at column {pos + 1} (udev: style issue)"]
            pos += 1
    return errors


def rule_lines(text: str) -> list[str]:
    """Return the rules and the commented example rules (`#KEY...`) of a rules file."""
    lines = []
    for raw in text.splitlines():
        line = raw.strip()
        if re.match(r"#[A-Z]+[{=!:+-]", line):
            line = line[1:]
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def test_rules_file_parses() -> None:
    """Every rule and example rule uses known keys, valid operators and quoted values."""
    lines = rule_lines(RULES.read_text())
    assert len(lines) >= 6
    for line in lines:
        assert rule_errors(line) == [], line


def test_rules_give_stable_dockscan_names() -> None:
    """Each rule matches its adapter by serial or USB port and names it under /dev/dockscan."""
    for line in rule_lines(RULES.read_text()):
        assert re.search(r'SUBSYSTEM=="(tty|video4linux)"', line), line
        assert re.search(r'SYMLINK\+="dockscan/[a-z0-9_-]+"', line), line
        assert 'ATTRS{serial}=="' in line or 'KERNELS=="' in line, line
        assert 'MODE="0660"' in line and re.search(r'GROUP="(dialout|video)"', line), line
    text = RULES.read_text()
    for vendor_product in ("0403", "6001"), ("067b", "2303"), ("1a86", "7523"), ("10c4", "ea60"):
        vendor, product = vendor_product
        assert f'ATTRS{{idVendor}}=="{vendor}", ATTRS{{idProduct}}=="{product}"' in text
    assert 'SUBSYSTEM=="video4linux"' in text and 'ATTR{index}=="0"' in text
    assert "udevadm info --attribute-walk" in text and "udevadm control --reload" in text


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ('SUBSYSTEM=="tty", ATTRS{idVendr}=="0403", SYMLNK+="x"', "unknown key SYMLNK"),
        ('SUBSYSTEM="tty", SYMLINK+="x"', "SUBSYSTEM does not take ="),
        ('KERNEL=="ttyUSB0", GROUP=="dialout"', "GROUP does not take =="),
        ('ATTRS=="0403", SYMLINK+="x"', "ATTRS needs {...}"),
        ('KERNEL=="ttyUSB0", MODE="rw"', "MODE 'rw' is not octal"),
        ('KERNEL=="ttyUSB0" SYMLINK+="x"', "expected ',' at column 19"),
        ('KERNEL==ttyUSB0, SYMLINK+="x"', "cannot parse at column 1"),
        ('KERNEL=="ttyUSB0", SYMLINK+="x', "cannot parse at column 19"),
    ],
)
def test_checker_rejects_bad_lines(line: str, error: str) -> None:
    """The checker is able to fail: typos, wrong operators and broken quoting are reported."""
    assert any(e.startswith(error) for e in rule_errors(line)), rule_errors(line)
