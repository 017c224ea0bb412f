"""The demo's flight: a manifest that lists most simulated parcels, and what each station presents.

Each station presents its own run of S10 parcels first (then random ones, which no manifest
lists). Most of a run is on the flight's manifest; every tenth parcel is not (UNEXPECTED), a
few are declared 1.4 kg off their weight (WEIGHT_OVER / WEIGHT_UNDER), a few have no declared
weight, one parcel of the first station comes round again at the second (DUPLICATE), some lines
never arrive (missing at close-out), and two parcels are on customs hold. Each station's second
parcel has a label nobody can read: a no-read for the clearing desk (with pictures at the
camera station), whose code the clerk can key.
"""

import csv
import random
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from dockscan.codes import s10_with_check

FLIGHT = "DS642"
PER_STATION = 40
NEVER_ARRIVE = 8
UNREAD = 1  # the position in each station's run of the parcel whose label cannot be read
HEADER = ("tracking_id", "declared_kg", "hawb", "bag", "declared_value", "currency", "country",
          "description")  # fmt: skip
GOODS = ("phone case", "USB-C cable", "t-shirt", "earphones", "LED strip", "toy figure",
         "sports shoes", "watch strap", "charger", "sticker set")  # fmt: skip


@dataclass
class DemoFlight:
    """The manifest's lines, each station's parcels (code, kg) in order, and the holds."""

    flight: str
    day: str
    lines: list[tuple[str, ...]] = field(default_factory=list)
    parcels: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    holds: list[tuple[str, str, str]] = field(default_factory=list)  # id, reason, note

    @property
    def file_name(self) -> str:
        """Return the drop-folder name that says which flight this is."""
        return f"flight_{self.flight}_{self.day}.csv"

    def write_manifest(self, folder: Path) -> Path:
        """Write the manifest into `folder` whole: a temporary name, then a rename."""
        folder.mkdir(parents=True, exist_ok=True)
        part = folder / (self.file_name + ".part")
        with open(part, "w", encoding="utf-8", newline="") as fh:
            out = csv.writer(fh, lineterminator="\n")
            out.writerow(HEADER)
            out.writerows(self.lines)
        return part.replace(folder / self.file_name)

    def write_parcels(self, folder: Path, station: str) -> Path:
        """Write a station's parcel script (`code,kg[,unread]` lines) for `dockscan sim station`."""
        path = folder / f"parcels-{station}.csv"
        lines = [f"{code},{kg:.3f}{',unread' if i == UNREAD else ''}\n"
                 for i, (code, kg) in enumerate(self.parcels[station])]  # fmt: skip
        path.write_text("".join(lines))
        return path


def demo_flight(stations: list[str], day: date, seed: int = 42) -> DemoFlight:
    """Return the demo flight of `day` for these stations (the same for the same seed)."""
    rnd = random.Random(seed)
    flight = DemoFlight(FLIGHT, day.isoformat())
    serial = 40_000_000 + rnd.randrange(1_000_000) * 10

    def line(code: str, kg: float | None, n: int) -> tuple[str, ...]:
        declared = "" if kg is None else f"{kg:.2f}"
        value = f"{rnd.uniform(3, 140):.2f}"
        return (code, declared, f"H{700000 + n // 4}", f"BAG-{n // 10:03d}", value, "EUR",
                rnd.choice(("DE", "FR", "BE", "NL", "IT")), rnd.choice(GOODS))  # fmt: skip

    n = 0
    for s, station in enumerate(stations):
        run: list[tuple[str, float]] = []
        for j in range(PER_STATION):
            code = s10_with_check("LX", serial + n, "CN")
            kg = round(rnd.uniform(0.4, 6.0), 3)
            run.append((code, kg))
            n += 1
            if j % 10 == 7:
                continue  # not on the manifest: UNEXPECTED
            declared: float | None = kg
            if j % 13 == 5:
                declared = kg - 1.4 if kg > 2.0 else kg + 1.4  # WEIGHT_OVER / WEIGHT_UNDER
            elif j % 17 == 3:
                declared = None  # NO_DECLARATION
            flight.lines.append(line(code, declared, n))
        flight.parcels[station] = run
        if s == 1:  # the first station's fourth parcel comes round again: DUPLICATE
            run.insert(15, flight.parcels[stations[0]][3])
    for _ in range(NEVER_ARRIVE):
        flight.lines.append(line(s10_with_check("LX", serial + n, "CN"), 1.0, n))
        n += 1
    first, second = stations[0], stations[min(1, len(stations) - 1)]
    flight.holds = [
        (flight.parcels[first][2][0], "customs_referral", "demo: referred by customs"),
        (flight.parcels[second][6][0], "inspection", "demo: open for inspection"),
    ]
    return flight
