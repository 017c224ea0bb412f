"""The pure decision: a parcel, the manifest lines listing its id, earlier sightings, holds."""

from typing import NamedTuple

from dockscan.config import ReconcileConfig
from dockscan.hub_events import Match, WeightCheck

# OIML R51 class Y(a), automatic weighing: (load up to n divisions, error in divisions).
MPE_TABLES = {
    "initial": ((500, 1.5), (2000, 2.0), (10_000, 2.5)),
    "in_service": ((500, 2.0), (2000, 3.0), (10_000, 4.0)),
}
KIND_ORDER = {"bag": 0, "uld": 1, "mawb": 2, "flight": 3}  # the most specific unit first
# The verdict words as plain str (what the store and the wire hold; the enums compare equal).
MATCHED, UNEXPECTED = Match.MATCHED.value, Match.UNEXPECTED.value
DUPLICATE, NO_MANIFEST = Match.DUPLICATE.value, Match.NO_MANIFEST.value
WEIGHT_OK, WEIGHT_OVER = WeightCheck.WEIGHT_OK.value, WeightCheck.WEIGHT_OVER.value
WEIGHT_UNDER, NO_WEIGHT = WeightCheck.WEIGHT_UNDER.value, WeightCheck.NO_WEIGHT.value
NO_DECLARATION = WeightCheck.NO_DECLARATION.value


class Sighting(NamedTuple):
    """One stored parcel with a usable code (a verdict_queue row without its id)."""

    event_id: str
    tracking_id: str
    station: str
    ts_ms: int
    measured_kg: float | None


class ListedLine(NamedTuple):
    """An open manifest's line for a tracking id."""

    manifest_id: str
    kind: str
    declared_kg: float | None


class Decision(NamedTuple):
    """A verdict as stored in the verdicts table (match and weight as their str values)."""

    match: str
    weight: str
    manifest_id: str | None
    declared_kg: float | None
    delta_kg: float | None
    tolerance_kg: float | None
    hold: str | None
    first_event_id: str | None


def mpe_kg(load_kg: float, division_kg: float, table: str = "in_service") -> float:
    """Return the scale's maximum permissible error at a load (beyond the table: its last)."""
    divisions = abs(load_kg) / division_kg
    for up_to, error in MPE_TABLES[table]:
        if divisions <= up_to:
            return error * division_kg
    return MPE_TABLES[table][-1][1] * division_kg


def weigh(
    declared: float | None, measured: float | None, cfg: ReconcileConfig, division_kg: float
) -> tuple[str, float | None, float | None]:
    """Return the weight check, measured - declared and the tolerance it was held to."""
    if measured is None:
        return NO_WEIGHT, None, None
    if declared is None:
        return NO_DECLARATION, None, None
    tolerance = max(cfg.abs_kg, cfg.pct / 100 * declared) + mpe_kg(measured, division_kg, cfg.mpe)
    tolerance, delta = round(tolerance, 6), round(measured - declared, 6)  # at the limit: OK
    if delta > tolerance:
        return WEIGHT_OVER, delta, tolerance
    if delta < -tolerance:
        return WEIGHT_UNDER, delta, tolerance
    return WEIGHT_OK, delta, tolerance


def decide(
    parcel: Sighting,
    lines: list[ListedLine],
    first: tuple[int, str] | None,
    any_open: bool,
    hold: str | None,
    cfg: ReconcileConfig,
    division_kg: float,
) -> Decision:
    """Judge one parcel; `first` is the earliest other sighting of its id (ts, event id)."""
    if not lines:
        line, declared = None, None
    elif len(lines) == 1:
        line = lines[0]
        declared = line.declared_kg
    else:
        ordered = sorted(lines, key=lambda li: (KIND_ORDER.get(li.kind, 9), li.manifest_id))
        line = ordered[0]
        declared = next((li.declared_kg for li in ordered if li.declared_kg is not None), None)
    earlier = first is not None and first < (parcel.ts_ms, parcel.event_id)
    if earlier:
        match = DUPLICATE
    elif line is not None:
        match = MATCHED
    else:
        match = UNEXPECTED if any_open else NO_MANIFEST
    check, delta, tolerance = weigh(declared, parcel.measured_kg, cfg, division_kg)
    return Decision(
        match, check, line.manifest_id if line else None, declared, delta, tolerance, hold,
        first[1] if earlier and first else None,
    )  # fmt: skip
