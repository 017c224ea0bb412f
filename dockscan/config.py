"""Site configuration: one TOML file, validated by frozen pydantic models."""

import os
import tomllib
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlparse

from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from dockscan.config_base import POSTGRES_SCHEMES, Ident, Model
from dockscan.config_hub import (
    MANIFEST_FIELDS,
    ClearingConfig,
    ManifestColumns,
    ManifestsConfig,
    ReconcileConfig,
)
from dockscan.errors import ConfigError

__all__ = [
    "MANIFEST_FIELDS", "POSTGRES_SCHEMES", "BrokerConfig", "CameraConfig", "ClearingConfig",
    "GatewayConfig", "Ident", "ManifestColumns", "ManifestsConfig", "Model", "ReconcileConfig",
    "ScaleConfig", "ScannerConfig", "SiteConfig", "SiteSection", "StationConfig", "load_config",
    "parse_config",
]  # fmt: skip

ScaleProtocol = Literal["mt-sics", "toledo-8217", "toledo-continuous", "cas", "sma", "nci"]
Symbology = Literal[
    "code128", "gs1-128", "ean13", "itf14", "itf", "code39", "qrcode", "datamatrix", "pdf417"
]


class SiteSection(Model):
    """The site this file describes."""

    id: Ident
    name: str = ""
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        """Reject time zones the system database does not know."""
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class BrokerConfig(Model):
    """How every process reaches the broker (Mosquitto, or the MQTT listeners of a NATS cluster)."""

    url: str = "mqtt://127.0.0.1:1883"
    urls: list[str] = Field(
        default_factory=list, description="Every broker node to fail over between; replaces url"
    )
    protocol: Literal["5", "3.1.1"] = "5"
    transport: Literal["mqtt", "nats"] = Field(
        "mqtt", description="How gateways read parcels: MQTT, or a NATS JetStream consumer"
    )
    nats_urls: list[str] = Field(default_factory=list, validate_default=True)
    nats_stream: str = Field("DOCKSCAN_PARCELS", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    nats_durable: str = Field("dockscan-gw", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    nats_replicas: int = Field(3, ge=1, le=5)
    nats_ack_wait_s: float = Field(30, ge=1, description="Redelivery after a gateway dies")
    topic_prefix: str = Field("dockscan/v1", pattern=r"^[A-Za-z0-9_/-]+[A-Za-z0-9_-]$")
    keepalive_s: int = Field(15, ge=2, le=3600)
    session_expiry_s: int = Field(7 * 86400, ge=0)
    username_env: str = ""
    password_env: str = ""
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""

    @field_validator("url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        """Accept mqtt:// and mqtts:// URLs with a host."""
        parsed = urlparse(value)
        if parsed.scheme not in ("mqtt", "mqtts") or not parsed.hostname:
            raise ValueError("must look like mqtt://host:1883 or mqtts://host:8883")
        return value

    @field_validator("urls")
    @classmethod
    def _valid_urls(cls, value: list[str]) -> list[str]:
        """Accept a list of mqtt:// or mqtts:// URLs, all with the same scheme."""
        for url in value:
            cls._valid_url(url)
        if len({urlparse(u).scheme for u in value}) > 1:
            raise ValueError("mixes mqtt:// and mqtts://: every node must use the same scheme")
        return value

    @field_validator("transport")
    @classmethod
    def _nats_speaks_311(cls, value: str, info: ValidationInfo) -> str:
        """Require MQTT 3.1.1 with NATS (it has no MQTT 5)."""
        if value == "nats" and info.data.get("protocol") != "3.1.1":
            raise ValueError('NATS has no MQTT 5: set broker.protocol = "3.1.1"')
        return value

    @field_validator("nats_urls")
    @classmethod
    def _valid_nats_urls(cls, value: list[str], info: ValidationInfo) -> list[str]:
        """Require nats:// (or tls://) URLs when the transport is NATS."""
        if info.data.get("transport") == "nats" and not value:
            raise ValueError('required with transport = "nats" (the gateways\' NATS URLs)')
        for url in value:
            parsed = urlparse(url)
            if parsed.scheme not in ("nats", "tls") or not parsed.hostname:
                raise ValueError(f"{url!r} must look like nats://host:4222")
        return value

    @property
    def endpoints(self) -> list[tuple[str, int]]:
        """Return (host, port) of every broker node, in failover order."""
        out = []
        for url in self.urls or [self.url]:
            parsed = urlparse(url)
            out.append((parsed.hostname or "127.0.0.1", parsed.port or self._default_port(url)))
        return out

    @staticmethod
    def _default_port(url: str) -> int:
        """Return 8883 for mqtts, else 1883."""
        return 8883 if urlparse(url).scheme == "mqtts" else 1883

    @property
    def host(self) -> str:
        """Return the (first) broker host name."""
        return self.endpoints[0][0]

    @property
    def port(self) -> int:
        """Return the (first) broker port (1883, or 8883 for mqtts)."""
        return self.endpoints[0][1]

    @property
    def tls(self) -> bool:
        """Return whether the connection uses TLS."""
        return urlparse((self.urls or [self.url])[0]).scheme == "mqtts"

    def credentials(self) -> tuple[str, str] | None:
        """Return (username, password) from the configured environment variables."""
        if not self.username_env:
            return None
        return os.environ.get(self.username_env, ""), os.environ.get(self.password_env, "")


class GatewayConfig(Model):
    """The site gateway: ingest, store and web UI."""

    id: Ident = "gw-1"
    database: str = Field(
        "var/gateway.db", min_length=1, description="SQLite path or postgresql:// URL"
    )
    database_password_env: str = Field(
        "", description="environment variable holding the PostgreSQL password"
    )
    http_bind: str = "127.0.0.1:8080"
    access_token_env: str = ""
    operator_token_env: str = ""
    batch_size: int = Field(500, ge=1, le=10_000)
    batch_ms: int = Field(50, ge=1, le=10_000)
    max_payload_bytes: int = Field(64 * 1024, ge=512)
    dead_letter_payload_bytes: int = Field(4096, ge=64)
    stale_after_intervals: int = Field(3, ge=1)
    retention_days: float = Field(90, gt=0)
    retention_max_mb: float = Field(0, ge=0, description="0 = no size cap")
    retention_every_s: int = Field(3600, ge=1)
    shared_group: str = Field("", pattern=r"^[A-Za-z0-9_-]{0,64}$")
    flush_when_idle: bool = Field(True, description="Commit as soon as nothing more is waiting")
    seq_gap_grace_s: float = Field(30, ge=0, description="How long a seq may be missing")

    @property
    def postgres(self) -> bool:
        """Return whether the store is a PostgreSQL database (else a SQLite file)."""
        return self.database.startswith(POSTGRES_SCHEMES)

    @field_validator("retention_max_mb")
    @classmethod
    def _size_cap_is_sqlite_only(cls, value: float, info: ValidationInfo) -> float:
        """Refuse a size cap on PostgreSQL, whose files do not shrink after DELETE."""
        if value and str(info.data.get("database", "")).startswith(POSTGRES_SCHEMES):
            raise ValueError(
                "caps a SQLite file; PostgreSQL keeps freed space for new rows,"
                " so use retention_days there"
            )
        return value

    def database_password(self) -> str | None:
        """Return the PostgreSQL password from the variable database_password_env names."""
        if not self.database_password_env:
            return None
        value = os.environ.get(self.database_password_env, "")
        if not value:
            raise ConfigError(
                "site config", "gateway.database_password_env",
                f"names ${self.database_password_env}, which is unset or empty",
            )  # fmt: skip
        return value


class ScaleConfig(Model):
    """A serial scale."""

    kind: Literal["scale"]
    id: Ident
    protocol: ScaleProtocol
    port: str = Field(min_length=1, description="device path or pyserial URL")
    baudrate: int = 9600
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    mode: Literal["poll", "stream"] = "poll"
    poll_interval_s: float = Field(0.1, gt=0, le=10)
    settle_ms: int = Field(500, ge=0, le=10_000)
    division_kg: float = Field(0.005, gt=0)
    min_kg: float = Field(0.05, ge=0)
    max_kg: float = Field(60.0, gt=0)
    zero_band_kg: float = Field(0.025, ge=0)
    stall_after_s: float = Field(3.0, gt=0, description="no valid frame for this long: stalled")

    @model_validator(mode="after")
    def _min_below_max(self) -> "ScaleConfig":
        """Require min_kg < max_kg."""
        if self.min_kg >= self.max_kg:
            raise ValueError("min_kg must be below max_kg")
        return self


class ScannerConfig(Model):
    """A serial (USB-CDC) hand scanner."""

    kind: Literal["scanner"]
    id: Ident
    port: str = Field(min_length=1)
    baudrate: int = 9600
    terminator: Literal["cr", "lf", "crlf"] = "cr"


class CameraConfig(Model):
    """A fixed camera over the dock."""

    kind: Literal["camera"]
    id: Ident
    source: str = Field(min_length=1, description="device index, /dev/videoN, URL, file or folder")
    fps: float = Field(10, gt=0, le=120)
    roi: tuple[int, int, int, int] | None = None
    downscale: float = Field(1.0, gt=0, le=1)
    symbologies: list[Symbology] = Field(
        default_factory=lambda: ["code128", "gs1-128", "datamatrix", "qrcode", "pdf417"]
    )
    backends: list[Literal["zxing", "pyzbar"]] = Field(default_factory=lambda: ["zxing"])
    tilt: bool = True
    dedupe_window_s: float = Field(2.0, ge=0)
    stall_after_s: float = Field(5.0, gt=0)
    evidence_dir: str = "var/evidence"
    evidence_max_mb: float = Field(200, gt=0)
    evidence_max_kb: float = Field(
        256, ge=16, le=1000, description="each evidence JPEG is made to fit this (else dropped)"
    )


Device = Annotated[ScaleConfig | ScannerConfig | CameraConfig, Field(discriminator="kind")]


class StationConfig(Model):
    """One dock station and its devices."""

    id: Ident
    dock: Ident
    outbox: str = ""
    screen_bind: str = ""
    pairing_window_s: float = Field(3.0, gt=0, le=120)
    repeat_window_s: float = Field(10.0, ge=0)
    repeat_policy: Literal["flag", "suppress"] = "flag"
    telemetry_interval_s: float = Field(10.0, gt=0)
    ack_timeout_s: float = Field(10.0, gt=0)
    window: int = Field(500, ge=1, le=10_000)  # events in flight: 500 drains 1.5x faster than 100
    outbox_max_events: int = Field(1_000_000, ge=10)
    outbox_overflow: Literal["block", "drop_oldest"] = "block"
    outbox_max_mb: float = Field(0, ge=0, description="Outbox file cap in MB (10^6 B); 0 = none")
    code_patterns: dict[str, str] = Field(default_factory=dict)
    evidence_upload: bool = Field(True, description="send no-read evidence to the gateway")
    evidence_upload_max_age_s: float = Field(86_400, gt=0, description="then dropped, counted")
    devices: list[Device] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_devices(self) -> "StationConfig":
        """Require device ids to be unique within the station."""
        ids = [d.id for d in self.devices]
        if len(ids) != len(set(ids)):
            raise ValueError(f"device ids must be unique, got {ids}")
        return self


class SiteConfig(Model):
    """A whole site: broker, gateway and stations."""

    site: SiteSection
    broker: BrokerConfig = BrokerConfig()
    gateway: GatewayConfig = GatewayConfig()
    manifests: ManifestsConfig = ManifestsConfig()
    reconcile: ReconcileConfig = ReconcileConfig()
    clearing: ClearingConfig = ClearingConfig()
    stations: list[StationConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_stations(self) -> "SiteConfig":
        """Require station ids to be unique within the site."""
        ids = [s.id for s in self.stations]
        if len(ids) != len(set(ids)):
            raise ValueError(f"station ids must be unique, got {ids}")
        return self

    def station(self, station_id: str) -> StationConfig:
        """Return the station with this id, or raise ConfigError."""
        for st in self.stations:
            if st.id == station_id:
                return st
        known = ", ".join(s.id for s in self.stations) or "none"
        raise ConfigError("", "stations", f"no station {station_id!r} (known: {known})")


def _key_path(loc: tuple[int | str, ...], data: dict) -> str:
    """Render a pydantic error location as a TOML key path, e.g. stations[0].devices[1].port."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("scale", "scanner", "camera") and out.endswith("]"):
            continue  # discriminator tag inserted by pydantic
        else:
            out += ("." if out else "") + str(part)
    return out


def parse_config(data: dict, path: str = "<config>") -> SiteConfig:
    """Validate a config mapping, raising ConfigError with the first problem's key path."""
    try:
        return SiteConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        reason = err["msg"]
        if err["type"] == "extra_forbidden":
            reason = "unknown key"
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise ConfigError(path, _key_path(err["loc"], data), reason + more) from None


def load_config(path: str | Path) -> SiteConfig:
    """Read and validate a site config TOML file."""
    path = str(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            path, "", f"not UTF-8 text (byte {exc.start}): TOML files are UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror}") from None
    return parse_config(data, path)
