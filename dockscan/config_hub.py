"""The hub's config sections: manifests, reconciliation and the clearing desk."""

from typing import Literal

from pydantic import Field, field_validator, model_validator

from dockscan.config_base import Model

MANIFEST_FIELDS = (
    "tracking_id", "declared_kg", "hawb", "bag", "declared_value", "currency", "ioss",
    "country", "hs_code", "description",
)  # fmt: skip


class ManifestColumns(Model):
    """Which CSV header names the manifest line fields (default: our own names)."""

    tracking_id: str = Field("tracking_id", min_length=1, max_length=200)
    declared_kg: str = Field("declared_kg", min_length=1, max_length=200)
    hawb: str = Field("hawb", min_length=1, max_length=200)
    bag: str = Field("bag", min_length=1, max_length=200)
    declared_value: str = Field("declared_value", min_length=1, max_length=200)
    currency: str = Field("currency", min_length=1, max_length=200)
    ioss: str = Field("ioss", min_length=1, max_length=200)
    country: str = Field("country", min_length=1, max_length=200)
    hs_code: str = Field("hs_code", min_length=1, max_length=200)
    description: str = Field("description", min_length=1, max_length=200)

    @model_validator(mode="after")
    def _distinct(self) -> "ManifestColumns":
        """Require each header name to map one field only."""
        names = [getattr(self, f).strip() for f in MANIFEST_FIELDS]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"header names mapped to two fields: {twice}")
        return self


class ManifestsConfig(Model):
    """Manifest import: CSV layout, size bounds and the optional drop folder."""

    columns: ManifestColumns = ManifestColumns()
    delimiter: str = Field(",", min_length=1, max_length=1)
    max_file_mb: float = Field(100, gt=0, le=4096)
    max_field_bytes: int = Field(64 * 1024, ge=256, le=16 * 1024 * 1024)
    max_columns: int = Field(256, ge=2, le=10_000)
    drop_folder: str = Field("", description="folder watched for manifest files ('' = none)")
    drop_settle_s: float = Field(
        2.0,
        ge=0,
        le=3600,
        description="a dropped file is taken once its size and mtime held this long",
    )
    drop_poll_s: float = Field(1.0, gt=0, le=60, description="how often the drop folder is read")

    @field_validator("delimiter")
    @classmethod
    def _plain_delimiter(cls, value: str) -> str:
        """Refuse a quote, newline or alphanumeric as the CSV delimiter."""
        if value in '"\r\n' or value.isalnum():
            raise ValueError(f"cannot delimit CSV fields with {value!r}")
        return value


class ReconcileConfig(Model):
    """Declared-vs-measured weight: tolerance max(abs_kg, pct of declared) + the scale's MPE."""

    enabled: bool = Field(True, description="decide a verdict for every stored parcel")
    abs_kg: float = Field(0.2, ge=0, le=100, description="tolerance floor in kg")
    pct: float = Field(5.0, ge=0, le=100, description="tolerance in % of the declared weight")
    mpe: Literal["in_service", "initial"] = Field(
        "in_service", description="OIML R51 maximum permissible error table"
    )
    default_division_kg: float = Field(
        0.01, gt=0, le=10, description="scale division e when a station's scale is not configured"
    )


class ClearingConfig(Model):
    """The clearing desk: evidence images kept by the gateway, shifts, and keyed codes."""

    evidence_max_kb: float = Field(
        512, ge=16, le=16_384, description="a larger image is dropped and counted"
    )
    evidence_max_mb: float = Field(1000, gt=0, description="evidence kept, oldest deleted first")
    evidence_days: float = Field(14, gt=0, description="evidence older than this is deleted")
    missing_after_s: float = Field(
        120, gt=0, description="an image not arrived this long after its parcel is missing"
    )
    shifts: list[str] = Field(
        default_factory=lambda: ["06:00", "14:00", "22:00"],
        min_length=1,
        description="shift start times, HH:MM in the site's time zone",
    )
    gs_tokens: list[str] = Field(
        default_factory=lambda: ["<GS>"],
        description="what a keyboard-wedge scanner types for the GS1 separator (GS, 0x1d)",
    )

    @field_validator("shifts")
    @classmethod
    def _clock_times(cls, value: list[str]) -> list[str]:
        """Require distinct HH:MM times."""
        for text in value:
            hh, _, mm = text.partition(":")
            if not (len(hh) == 2 and len(mm) == 2 and hh.isdigit() and mm.isdigit()):
                raise ValueError(f"{text!r} is not a time like 06:00")
            if int(hh) > 23 or int(mm) > 59:
                raise ValueError(f"{text!r} is not a time of day")
        if len(set(value)) != len(value):
            raise ValueError("the same shift start twice")
        return sorted(value)

    @field_validator("gs_tokens")
    @classmethod
    def _visible_tokens(cls, value: list[str]) -> list[str]:
        """Require non-empty tokens of at most 16 characters."""
        for token in value:
            if not 0 < len(token) <= 16 or token.isalnum():
                raise ValueError(f"{token!r}: 1-16 characters, not only letters and digits")
        return value
