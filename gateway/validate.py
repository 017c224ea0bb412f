"""Turn one MQTT message into a contract model, or a one-line reason it goes to dead letters."""

import functools

from pydantic import ValidationError

from dockscan.errors import ContractError
from dockscan.events import INT64, Contract, ParcelEvent, StationStatus, Telemetry
from dockscan.topics import TopicParts, Topics

MODELS: dict[str, type[Contract]] = {
    "parcel": ParcelEvent,
    "status": StationStatus,
    "telemetry": Telemetry,
}


class Rejected(ContractError):
    """A message that fails validation; `station` is set when the topic named one."""

    def __init__(self, reason: str, station: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.station = reason, station


@functools.lru_cache(maxsize=4096)
def parse_topic(topics: Topics, topic: str) -> TopicParts:
    """Return the parts of an ingest topic, or raise Rejected (valid topics are cached)."""
    try:
        parts = topics.parse(topic)
    except ContractError as exc:
        raise Rejected(f"bad topic: {exc}") from None
    if parts.kind not in MODELS:
        raise Rejected(f"unexpected topic kind {parts.kind!r}", parts.station)
    return parts


def validate(topics: Topics, topic: str, payload: bytes, max_bytes: int) -> Contract | None:
    """Validate one ingest message: its model, None for a cleared retained status, or Rejected."""
    parts = parse_topic(topics, topic)
    if parts.kind == "status" and not payload:
        return None  # a station retired: its retained status was cleared
    return decode(parts, payload, max_bytes)


def decode(parts: TopicParts, payload: bytes, max_bytes: int) -> Contract:
    """Validate a payload against the model for its topic kind, or raise Rejected."""
    if len(payload) > max_bytes:
        raise Rejected(f"oversized payload: {len(payload)} bytes > {max_bytes}", parts.station)
    model = MODELS[parts.kind]
    try:
        value = model.model_validate_json(payload)
    except ValidationError as exc:
        raise Rejected(_reason(exc, payload, model), parts.station) from None
    out_of_range = _out_of_range(value)
    if out_of_range:
        raise Rejected(f"invalid field {out_of_range}: out of range", parts.station)
    if value.site != parts.site or value.station != parts.station:  # type: ignore[attr-defined]
        raise Rejected(
            f"topic names {parts.site}/{parts.station} but payload says "
            f"{value.site}/{value.station}",  # type: ignore[attr-defined]
            parts.station,
        )
    return value


def _out_of_range(value: Contract) -> str | None:
    """Return the first number SQLite cannot store faithfully (beyond int64, not finite).

    A parcel event's numbers are bounded in its model, so the check runs in pydantic's core.
    """
    if isinstance(value, ParcelEvent):
        return None
    if isinstance(value, Telemetry):
        numbers: dict[str, float] = {"session": value.session, "outbox_depth": value.outbox_depth}
        numbers["interval_s"] = value.interval_s
        numbers.update({_loc(("counters", k)): v for k, v in value.counters.items()})
        if value.oldest_pending_age_s is not None:  # inf would reach the UI's JSON as Infinity
            numbers["oldest_pending_age_s"] = value.oldest_pending_age_s
    else:
        numbers = {"session": value.session}  # type: ignore[attr-defined]
    for name, number in numbers.items():
        if not -INT64 <= number < INT64:  # also False for NaN
            return name
    return None


def _reason(exc: ValidationError, payload: bytes, model: type[Contract]) -> str:
    """Summarise a validation error in one line, naming its class first."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if first["type"] == "json_invalid":
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError as err:
            return f"invalid UTF-8 at byte {err.start}"
        return f"bad JSON: {first['msg'].removeprefix('Invalid JSON: ')}"
    if first["type"] == "model_type":
        return "bad JSON: not an object"
    loc = _loc(first["loc"])
    if loc == "schema" and first["type"] != "missing":
        expected = model.model_fields["schema_"].default
        got = first.get("input")
        return f"wrong schema version: got {got!r}, expected {expected!r}"
    missing = [_loc(e["loc"]) for e in errors if e["type"] == "missing"]
    if missing:
        return "missing fields: " + ", ".join(missing[:8]) + ("" if len(missing) <= 8 else ", ...")
    return f"invalid field {loc}: {first['msg']}{more}"


def _loc(loc: tuple[int | str, ...]) -> str:
    """Render an error location on one line (odd keys from the payload in quotes, escaped)."""
    return ".".join(str(p) if isinstance(p, int) or p.isidentifier() else repr(p) for p in loc)
