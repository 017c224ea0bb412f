"""The clearing-desk part of the MQTT contract, v1: corrections of parcels a station could not read.

A correction never changes the parcel event a station sent: it is a record of its own that
names that event, says what a clerk did and, when a code was keyed, which code and what it is.
"""

from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from dockscan.events import Contract, Ident, Outcome, UtcTime
from dockscan.hub_events import EVENT_ID, TRACKING_ID

# Outcomes a person resolves at the clearing desk (the edge keeps camera frames of them).
CLEARED_OUTCOMES = (Outcome.NO_READ, Outcome.MULTI_READ, Outcome.INVALID_CODE)


class CorrectionAction(StrEnum):
    """What the clerk did with the parcel."""

    KEYED = "keyed"  # typed or scanned the code at the desk
    RELABELLED = "relabelled"  # printed a new label; the parcel goes round again
    RETURNED = "returned_to_sorter"  # sent round again as it is


class KeyedCode(Contract):
    """The code a clerk keyed, checked as a station checks a scan."""

    text: str = Field(min_length=1, max_length=256, description="As keyed; GS1 keeps \\x1d")
    kind: str = Field(max_length=32, description="upu_s10, sscc, gs1, ups_1z, carrier, unknown")
    check_ok: bool | None = Field(description="Check digit verified; null when the kind has none")
    tracking_id: str | None = Field(
        None, pattern=TRACKING_ID, description="Normalised tracking id, as manifests are matched"
    )


class Correction(Contract):
    """A clerk's resolution of a parcel a station could not read (NO_READ, MULTI_READ, ...)."""

    schema_: Literal["dockscan.correction/1"] = Field("dockscan.correction/1", alias="schema")
    correction_id: int = Field(ge=1, description="Grows per site; de-duplicate on it")
    site: Ident
    station: Ident
    dock: Ident
    event_id: str = Field(pattern=EVENT_ID, description="The parcel event it corrects")
    parcel_ts: UtcTime
    original_outcome: Outcome
    original_codes: list[str] = Field(max_length=32, description="Codes the station read")
    action: CorrectionAction
    code: KeyedCode | None = Field(None, description="Set when action is keyed")
    supersedes: int | None = Field(None, ge=1, description="The parcel's previous correction")
    note: str = Field("", max_length=256)
    by: str = Field(min_length=1, max_length=64, description="Who made it")
    ts: UtcTime

    @model_validator(mode="after")
    def _code_when_keyed(self) -> "Correction":
        """Require a code for a keyed correction, and none for the others."""
        if (self.action is CorrectionAction.KEYED) != (self.code is not None):
            raise ValueError("a keyed correction carries its code; the others carry none")
        return self
