"""The MQTT contract: payload models, topic builders and parser, UUIDv7."""

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from dockscan.errors import ContractError
from dockscan.events import Barcode, Outcome, ParcelEvent, StationStatus, Weight
from dockscan.ids import iso_ms, uuid7
from dockscan.topics import Topics


def make_event(**over: object) -> ParcelEvent:
    fields: dict = {
        "event_id": uuid7(),
        "seq": 7,
        "site": "LGG",
        "dock": "07",
        "station": "dock07-a",
        "ts": datetime(2026, 11, 27, 9, 31, 12, 481000, tzinfo=UTC),
        "outcome": Outcome.OK,
        "barcodes": [
            Barcode(text="RR123456785CN", symbology="code128", source="cam", kind="upu_s10",
                    check_ok=True)
        ],
        "weight": Weight(value=2.375, device_value="2.375", device_unit="kg", stable=True,
                         raw="S S      2.375 kg\\r\\n", device="scale"),
        "agent_version": "0.1.0",
    }  # fmt: skip
    fields.update(over)
    return ParcelEvent(**fields)


def test_parcel_event_round_trip_and_wire_form() -> None:
    event = make_event()
    wire = json.loads(event.to_json())
    assert wire["schema"] == "dockscan.parcel/1"
    assert wire["ts"] == "2026-11-27T09:31:12.481Z"
    assert ParcelEvent.model_validate_json(event.to_json()) == event


def test_parcel_event_rejects_bad_input() -> None:
    wire = json.loads(make_event().to_json())
    for mutate in (
        lambda w: w.update(schema="dockscan.parcel/2"),
        lambda w: w.update(ts="2026-11-27T09:31:12"),
        lambda w: w.update(seq=-1),
        lambda w: w.update(station="dock 7"),
        lambda w: w.update(extra_field=1),
        lambda w: w.pop("event_id"),
        lambda w: w.update(outcome="MAYBE"),
    ):
        bad = dict(wire)
        mutate(bad)
        with pytest.raises(ValidationError):
            ParcelEvent.model_validate(bad)


def test_timestamps_are_normalised_to_utc() -> None:
    cet = timezone(timedelta(hours=1))
    event = make_event(ts=datetime(2026, 11, 27, 10, 0, 0, tzinfo=cet))
    assert json.loads(event.to_json())["ts"] == "2026-11-27T09:00:00.000Z"


def test_status_carries_session() -> None:
    status = StationStatus(site="LGG", station="a", state="offline", session=3,
                           ts=datetime.now(UTC), version="0.1.0")  # fmt: skip
    assert json.loads(status.to_json())["session"] == 3


def test_topics_build_and_parse() -> None:
    t = Topics("dockscan/v1")
    assert t.parcel("LGG", "dock07-a") == "dockscan/v1/LGG/dock07-a/parcel"
    assert t.cmd("LGG", "dock07-a", "tare") == "dockscan/v1/LGG/dock07-a/cmd/tare"
    assert t.gateway_status("LGG", "gw-1") == "dockscan/v1/LGG/gateway/gw-1/status"
    parts = t.parse("dockscan/v1/LGG/dock07-a/parcel")
    assert (parts.site, parts.station, parts.kind) == ("LGG", "dock07-a", "parcel")
    assert t.parse("dockscan/v1/LGG/dock07-a/cmd/zero").name == "zero"
    assert t.parse("dockscan/v1/LGG/gateway/gw-1/status").kind == "gateway-status"
    assert t.subscription("parcel") == "dockscan/v1/+/+/parcel"


@pytest.mark.parametrize(
    "topic",
    ["other/v1/LGG/a/parcel", "dockscan/v1/LGG/a", "dockscan/v1/LGG/a/unknown",
     "dockscan/v1/L G/a/parcel", "dockscan/v1/LGG/a/b/parcel"],
)  # fmt: skip
def test_topic_parser_rejects(topic: str) -> None:
    with pytest.raises(ContractError):
        Topics().parse(topic)


def test_topic_builder_rejects_wildcards() -> None:
    with pytest.raises(ContractError):
        Topics().parcel("LGG", "+")


def test_uuid7_is_version_7_and_ordered() -> None:
    ids = [uuid7() for _ in range(5000)]
    assert all(uuid.UUID(i).version == 7 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_iso_ms() -> None:
    assert iso_ms(datetime(2026, 1, 2, 3, 4, 5, 6789, tzinfo=UTC)) == "2026-01-02T03:04:05.006Z"
