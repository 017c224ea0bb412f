"""The public MQTT contract, v1: pydantic models for every payload dockscan publishes."""

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer

from dockscan.ids import iso_ms

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MAX_PAYLOAD_BYTES = 64 * 1024
INT64 = 2**63  # numbers must fit the store's SQLite integers

# Aware datetimes only (checked in pydantic's core); published and stored as UTC (iso_ms,
# epoch milliseconds), whatever offset the sender wrote.
UtcTime = Annotated[
    AwareDatetime,
    PlainSerializer(iso_ms, return_type=str, when_used="json"),
    Field(description="UTC timestamp, ISO 8601 with milliseconds, e.g. 2026-11-27T09:31:12.481Z"),
]
Ident = Annotated[str, Field(pattern=ID_PATTERN, description="Site, dock or station id")]


class Outcome(StrEnum):
    """What the station concluded about one parcel."""

    OK = "OK"
    NO_READ = "NO_READ"
    NO_WEIGHT = "NO_WEIGHT"
    MULTI_READ = "MULTI_READ"
    INVALID_CODE = "INVALID_CODE"
    REPEAT = "REPEAT"


class DeviceStateName(StrEnum):
    """Health of one device as the edge agent sees it."""

    OK = "ok"
    STARTING = "starting"
    STALLED = "stalled"
    DISCONNECTED = "disconnected"
    FAULT = "fault"


class Contract(BaseModel):
    """Base of every payload: strict about unknown fields, serialised by alias."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    def to_json(self) -> bytes:
        """Serialise to compact JSON bytes as published on MQTT."""
        return self.model_dump_json(by_alias=True).encode()


class Barcode(Contract):
    """One code read from a label."""

    text: str = Field(max_length=4096, description="Raw content; GS1 keeps \\x1d separators")
    symbology: str = Field(max_length=32, description="e.g. code128, gs1-128, datamatrix, qrcode")
    source: str = Field(max_length=64, description="Device id that read it (camera or scanner)")
    kind: str = Field(max_length=32, description="upu_s10, sscc, gs1, ups_1z, carrier, unknown")
    check_ok: bool | None = Field(description="Check digit verified; null when the kind has none")


class Weight(Contract):
    """A captured stable weight, normalised to kg, with the device's own reading kept."""

    value: float = Field(description="Weight in kg", allow_inf_nan=False, ge=-INT64, lt=INT64)
    unit: Literal["kg"] = "kg"
    device_value: str = Field(max_length=32, description="Value exactly as the device sent it")
    device_unit: str = Field(max_length=8, description="Unit as the device sent it")
    stable: bool
    raw: str = Field(max_length=256, description="Raw frame from the scale, escaped")
    device: str = Field(max_length=64, description="Device id of the scale")


class ParcelEvent(Contract):
    """One parcel seen at a dock station (topic .../parcel, QoS 1, never retained)."""

    schema_: Literal["dockscan.parcel/1"] = Field("dockscan.parcel/1", alias="schema")
    event_id: str = Field(pattern=r"^[0-9a-f-]{36}$", description="UUIDv7, unique per event")
    seq: int = Field(ge=0, lt=INT64, description="Per-station sequence number from the outbox")
    site: Ident
    dock: Ident
    station: Ident
    ts: UtcTime
    outcome: Outcome
    barcodes: list[Barcode] = Field(default_factory=list, max_length=32)
    weight: Weight | None = None
    flags: list[Annotated[str, Field(max_length=32)]] = Field(default_factory=list, max_length=16)
    images: list[Annotated[str, Field(max_length=256)]] = Field(
        default_factory=list,
        max_length=16,
        description="Evidence image names (NO_READ, MULTI_READ, INVALID_CODE); each is sent on"
        " .../evidence/{event_id}/{index}",
    )
    agent_version: str = Field(max_length=32)


class DeviceState(Contract):
    """State of one device on a station."""

    kind: Literal["scale", "scanner", "camera", "outbox"]
    state: DeviceStateName
    reason: str = Field("", max_length=512)
    since: UtcTime


class StationStatus(Contract):
    """Retained station status; the Will publishes the offline form."""

    schema_: Literal["dockscan.status/1"] = Field("dockscan.status/1", alias="schema")
    site: Ident
    station: Ident
    dock: Ident | None = None
    state: Literal["online", "offline"]
    session: int = Field(ge=0, description="+1 per connect; an older offline never wins")
    ts: UtcTime
    reason: str = Field("", max_length=256)
    version: str = Field(max_length=32)
    devices: dict[str, DeviceState] = Field(default_factory=dict)


class Telemetry(Contract):
    """Periodic station health (QoS 0, every interval)."""

    schema_: Literal["dockscan.telemetry/1"] = Field("dockscan.telemetry/1", alias="schema")
    site: Ident
    station: Ident
    ts: UtcTime
    session: int = Field(ge=0)
    interval_s: float = Field(gt=0)
    counters: dict[str, int] = Field(default_factory=dict)
    devices: dict[str, DeviceState] = Field(default_factory=dict)
    outbox_depth: int = Field(ge=0)
    oldest_pending_age_s: float | None = None


class Ack(Contract):
    """Event ids the gateway has committed to its store."""

    schema_: Literal["dockscan.ack/1"] = Field("dockscan.ack/1", alias="schema")
    gateway: Ident
    ids: list[str] = Field(max_length=10_000)
    ts: UtcTime


class Command(Contract):
    """A command to a station (topic .../cmd/{name})."""

    schema_: Literal["dockscan.command/1"] = Field("dockscan.command/1", alias="schema")
    request_id: str = Field(max_length=64)
    args: dict[str, Any] = Field(default_factory=dict)
    ts: UtcTime
    sender: str = Field("", max_length=64)


class CommandResult(Contract):
    """A station's answer to a command (topic .../reply)."""

    schema_: Literal["dockscan.reply/1"] = Field("dockscan.reply/1", alias="schema")
    request_id: str = Field(max_length=64)
    command: str = Field(max_length=32)
    ok: bool
    detail: str = Field("", max_length=1024)
    ts: UtcTime


class GatewayStatus(Contract):
    """Retained gateway status; its Will publishes the offline form."""

    schema_: Literal["dockscan.gateway-status/1"] = Field(
        "dockscan.gateway-status/1", alias="schema"
    )
    gateway: Ident
    state: Literal["online", "offline"]
    session: int = Field(ge=0)
    ts: UtcTime
    version: str = Field(max_length=32)


PAYLOADS: dict[str, type[Contract]] = {
    "parcel": ParcelEvent,
    "status": StationStatus,
    "telemetry": Telemetry,
    "ack": Ack,
    "cmd": Command,
    "reply": CommandResult,
    "gateway-status": GatewayStatus,
}
