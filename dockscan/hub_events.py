"""The hub part of the MQTT contract, v1: verdicts, customs holds and manifest close-outs."""

from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from dockscan.events import Contract, Ident, UtcTime

EVENT_ID = r"^[0-9a-f-]{36}$"
TRACKING_ID = r"^[\x21-\x7e]{1,64}$"
MAX_CLOSEOUT_IDS = 10_000


class Match(StrEnum):
    """Whether a parcel was expected on an open manifest."""

    MATCHED = "MATCHED"
    UNEXPECTED = "UNEXPECTED"  # on no open manifest (while at least one was open)
    DUPLICATE = "DUPLICATE"  # its tracking id was seen before, at any station
    NO_MANIFEST = "NO_MANIFEST"  # no manifest was open: nothing to match against


class WeightCheck(StrEnum):
    """Measured against declared weight, within the site's tolerance."""

    WEIGHT_OK = "WEIGHT_OK"
    WEIGHT_OVER = "WEIGHT_OVER"
    WEIGHT_UNDER = "WEIGHT_UNDER"
    NO_DECLARATION = "NO_DECLARATION"  # no manifest line, or the line declares no weight
    NO_WEIGHT = "NO_WEIGHT"  # the station measured none


class HoldReason(StrEnum):
    """Why a parcel must be set aside at the dock."""

    CUSTOMS_REFERRAL = "customs_referral"
    DO_NOT_LOAD = "do_not_load"
    INSPECTION = "inspection"
    PROHIBITIONS_RESTRICTIONS = "prohibitions_restrictions"
    DAMAGE = "damage"


class Verdict(Contract):
    """The reconciliation of one stored parcel."""

    event_id: str = Field(pattern=EVENT_ID, description="The parcel event it judges")
    tracking_id: str = Field(pattern=TRACKING_ID, description="Normalised tracking id")
    ts: UtcTime
    match: Match
    weight: WeightCheck
    manifest_id: str | None = Field(None, max_length=100)
    declared_kg: float | None = Field(None, allow_inf_nan=False)
    measured_kg: float | None = Field(None, allow_inf_nan=False)
    delta_kg: float | None = Field(None, allow_inf_nan=False, description="measured - declared")
    tolerance_kg: float | None = Field(None, allow_inf_nan=False)
    hold: HoldReason | None = Field(None, description="Held by customs when it was stored")
    first_event_id: str | None = Field(None, pattern=EVENT_ID, description="DUPLICATE: first")
    revision: int = Field(0, ge=0, description="+1 each time a later manifest changed it")


class VerdictBatch(Contract):
    """Verdicts of one station's parcels, published after the batch that stored them."""

    schema_: Literal["dockscan.verdict/1"] = Field("dockscan.verdict/1", alias="schema")
    site: Ident
    station: Ident
    gateway: Ident
    ts: UtcTime
    verdicts: list[Verdict] = Field(max_length=10_000)


class Hold(Contract):
    """One tracking id customs holds, and why."""

    tracking_id: str = Field(pattern=TRACKING_ID)
    reason: HoldReason
    note: str = Field("", max_length=256)
    since: UtcTime


class HoldList(Contract):
    """Every current hold of a site (retained): stations keep the latest version they got."""

    schema_: Literal["dockscan.holds/1"] = Field("dockscan.holds/1", alias="schema")
    site: Ident
    version: int = Field(ge=0, description="Grows with every set and release")
    ts: UtcTime
    holds: list[Hold] = Field(max_length=100_000)


class HoldRequest(Contract):
    """An authorised integrator sets or releases a hold."""

    schema_: Literal["dockscan.hold-request/1"] = Field("dockscan.hold-request/1", alias="schema")
    action: Literal["set", "release"]
    tracking_id: str = Field(min_length=1, max_length=200, description="As printed; normalised")
    reason: HoldReason | None = Field(None, description="Required to set")
    note: str = Field("", max_length=256)
    sender: str = Field(min_length=1, max_length=64)
    request_id: str = Field("", max_length=64)
    ts: UtcTime

    @model_validator(mode="after")
    def _set_needs_reason(self) -> "HoldRequest":
        """Require a reason to set a hold."""
        if self.action == "set" and self.reason is None:
            raise ValueError("a hold needs a reason")
        return self


class Closeout(Contract):
    """A closed manifest's report in numbers, with the missing ids (the full report: the API)."""

    schema_: Literal["dockscan.closeout/1"] = Field("dockscan.closeout/1", alias="schema")
    site: Ident
    manifest_id: str = Field(max_length=100)
    kind: Literal["flight", "mawb", "uld", "bag"]
    reference: str = Field(max_length=100)
    closed: UtcTime
    closed_by: str = Field(max_length=64)
    expected: int = Field(ge=0)
    seen: int = Field(ge=0)
    missing: int = Field(ge=0)
    unexpected: int = Field(ge=0, description="Parcels on no open manifest while it was open")
    weight_over: int = Field(ge=0)
    weight_under: int = Field(ge=0)
    holds_seen: int = Field(ge=0)
    missing_ids: list[str] = Field(max_length=MAX_CLOSEOUT_IDS)
    missing_truncated: bool = Field(description="More missing than missing_ids lists")
    report_path: str = Field(max_length=256, description="Gateway API path of the full report")
