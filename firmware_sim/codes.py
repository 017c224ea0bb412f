"""Parcel codes the simulated scanner types: S10, SSCC, GS1 with GS, UPS 1Z; valid or not."""

import random
import string
from dataclasses import dataclass

GS = "\x1d"
S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
S10_SERVICES = "ECRLUV"
COUNTRIES = ("CN", "GB", "US", "DE", "FR", "NL", "CH")


@dataclass(frozen=True)
class SimCode:
    """A code as printed on a label: text (without AIM prefix), symbology, kind, check ok."""

    text: str
    symbology: str
    kind: str
    check_ok: bool


def s10_check(digits: str) -> int:
    """Return the UPU S10 check digit for 8 serial digits (mod 11, weights 8,6,4,2,3,5,9,7)."""
    check = 11 - sum(int(d) * w for d, w in zip(digits, S10_WEIGHTS, strict=True)) % 11
    return {10: 0, 11: 5}.get(check, check)


def gs1_check(digits: str) -> int:
    """Return the GS1 mod-10 check digit (weights 3,1,3,1… from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def ups_check(body: str) -> int:
    """Return the UPS 1Z check digit for the 15 characters after `1Z`."""
    values = [int(c) if c.isdigit() else (ord(c) - 63) % 10 for c in body]
    total = sum(v * (2 if i % 2 else 1) for i, v in enumerate(values))
    return (10 - total % 10) % 10


def _wrong(check: int, rng: random.Random) -> int:
    """Return a digit different from `check`."""
    return rng.choice([d for d in range(10) if d != check])


def s10(rng: random.Random, valid: bool = True) -> SimCode:
    """Return a UPU S10 item id such as RR123456785CN (Code 128 on the label)."""
    digits = "".join(rng.choice(string.digits) for _ in range(8))
    check = s10_check(digits)
    check = check if valid else _wrong(check, rng)
    text = f"{rng.choice(S10_SERVICES)}{rng.choice(string.ascii_uppercase)}{digits}{check}"
    return SimCode(text + rng.choice(COUNTRIES), "code128", "upu_s10", valid)


def sscc(rng: random.Random, valid: bool = True) -> SimCode:
    """Return a GS1-128 SSCC element string: AI 00 and 18 digits."""
    body = "".join(rng.choice(string.digits) for _ in range(17))
    check = gs1_check(body)
    check = check if valid else _wrong(check, rng)
    return SimCode(f"00{body}{check}", "gs1-128", "sscc", valid)


def gs1_ship_to(rng: random.Random, valid: bool = True) -> SimCode:
    """Return AI 420 (ship-to postcode), GS, then an SSCC: `42094043<GS>00…`."""
    inner = sscc(rng, valid)
    postcode = "".join(rng.choice(string.digits) for _ in range(5))
    return SimCode(f"420{postcode}{GS}{inner.text}", "gs1-128", "sscc", valid)


def ups_1z(rng: random.Random, valid: bool = True) -> SimCode:
    """Return a UPS 1Z tracking number with its check character."""
    alphabet = string.digits + string.ascii_uppercase
    body = "".join(rng.choice(alphabet) for _ in range(6)) + "".join(
        rng.choice(string.digits) for _ in range(9)
    )
    check = ups_check(body)
    check = check if valid else _wrong(check, rng)
    return SimCode(f"1Z{body}{check}", "code128", "ups_1z", valid)


GENERATORS = (s10, sscc, gs1_ship_to, ups_1z)


def random_code(rng: random.Random, valid: bool = True) -> SimCode:
    """Return a code of a random kind."""
    return rng.choice(GENERATORS)(rng, valid)
