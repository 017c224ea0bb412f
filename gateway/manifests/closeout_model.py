"""What a close-out report holds: the expected lines, their sightings, and the exceptions."""

from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from gateway.manifests.model import ManifestError


class CloseoutError(ManifestError, ValueError):
    """A manifest that cannot be closed or reported on."""


class UnknownManifest(CloseoutError):
    """No manifest has that id."""


class AlreadyClosed(CloseoutError):
    """The manifest was closed before: closing is not repeated, its report stays as it was."""


class Sighting(NamedTuple):
    """One verdict the report lists: a parcel seen at a station (a tuple: quick to make)."""

    tracking_id: str
    event_id: str
    station: str
    ts_ms: int
    match: str
    weight: str
    declared_kg: float | None
    measured_kg: float | None
    delta_kg: float | None
    hold: str | None
    first_event_id: str | None


@dataclass(slots=True, frozen=True)
class LastSeen:
    """Where a missing line's bag or ULD was last seen: station, time, and which unit."""

    station: str
    ts_ms: int
    via: str  # "bag B0042" or "uld AKE12345CZ"


@dataclass(slots=True)
class LineStatus:
    """One expected line: its first sighting (whose weight check counts) or where its bag was."""

    tracking_id: str
    line_no: int
    hawb: str | None
    bag: str | None
    declared_kg: float | None
    description: str | None
    first: Sighting | None = None  # the first sighting that is not a DUPLICATE, else the first
    sightings: int = 0
    last_seen: LastSeen | None = None  # missing: where its bag or ULD was last seen

    @property
    def status(self) -> str:
        """Return 'seen' or 'missing'."""
        return "seen" if self.first is not None else "missing"

    @property
    def weight(self) -> str | None:
        """Return the first sighting's weight check (None while missing)."""
        return self.first.weight if self.first else None


@dataclass
class Report:
    """A manifest's close-out report (or its progress while open)."""

    manifest_id: str
    kind: str
    reference: str
    state: str
    created_ms: int
    closed_ms: int | None
    closed_by: str | None
    as_of_ms: int  # closed_ms, or the time an open manifest's report was made
    lines: list[LineStatus]  # file order
    unexpected: list[Sighting]  # UNEXPECTED parcels captured while it was open
    duplicates: list[Sighting]  # repeat sightings of its ids
    holds: list[Sighting]  # sightings of its ids that were on hold at the time

    @property
    def expected(self) -> int:
        """Return how many lines are expected."""
        return len(self.lines)

    @cached_property
    def seen(self) -> int:
        """Return how many expected lines were seen."""
        return sum(1 for li in self.lines if li.first is not None)

    @cached_property
    def missing(self) -> list[LineStatus]:
        """Return the expected lines not seen, in file order."""
        return [li for li in self.lines if li.first is None]

    @cached_property
    def weight_over(self) -> list[LineStatus]:
        """Return the seen lines that weighed more than declared beyond the tolerance."""
        return [li for li in self.lines if li.weight == "WEIGHT_OVER"]

    @cached_property
    def weight_under(self) -> list[LineStatus]:
        """Return the seen lines that weighed less than declared beyond the tolerance."""
        return [li for li in self.lines if li.weight == "WEIGHT_UNDER"]

    @property
    def report_path(self) -> str:
        """Return the gateway API path of this report."""
        return f"/api/v1/manifests/{self.manifest_id}/report"

    def counts(self) -> dict[str, int]:
        """Return the report in numbers."""
        return {
            "expected": self.expected, "seen": self.seen, "missing": len(self.missing),
            "unexpected": len(self.unexpected), "weight_over": len(self.weight_over),
            "weight_under": len(self.weight_under), "duplicates": len(self.duplicates),
            "holds_seen": len(self.holds),
        }  # fmt: skip

    def summary(self) -> str:
        """Return the report in one line of text."""
        c = self.counts()
        return (
            f"{self.manifest_id} ({self.state}): {c['seen']}/{c['expected']} seen,"
            f" {c['missing']} missing, {c['unexpected']} unexpected, {c['weight_over']} over,"
            f" {c['weight_under']} under, {c['duplicates']} duplicates,"
            f" {c['holds_seen']} holds seen"
        )
