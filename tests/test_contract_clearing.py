"""The clearing desk's part of the contract: corrections on the wire, evidence topics."""

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
import yaml
from pydantic import ValidationError

from dockscan.correction_events import Correction, KeyedCode
from dockscan.errors import ContractError
from dockscan.ids import uuid7
from dockscan.schema import json_schema
from dockscan.topics import Topics

REPO = Path(__file__).resolve().parents[1]
TS = datetime(2026, 12, 6, 9, 31, 12, 481000, tzinfo=UTC)
EVENT = "01a24a0d-7c43-7000-b176-ccc60d968cb3"


def keyed() -> Correction:
    """Return a keyed correction of a no-read."""
    code = KeyedCode(text="rr 123 456 785 cn", kind="upu_s10", check_ok=True,
                     tracking_id="RR123456785CN")  # fmt: skip
    return Correction(correction_id=7, site="LGG", station="dock03", dock="03", event_id=EVENT,
                      parcel_ts=TS, original_outcome="NO_READ", original_codes=[],
                      action="keyed", code=code, note="label torn", by="Ann", ts=TS)  # fmt: skip


def test_a_correction_round_trips_and_the_published_schema_accepts_it() -> None:
    model = keyed()
    wire = json.loads(model.to_json())
    assert wire["schema"] == "dockscan.correction/1" and wire["ts"].endswith(".481Z")
    assert Correction.model_validate_json(model.to_json()) == model
    published = json.loads((REPO / "docs/schema/dockscan.correction-1.json").read_text())
    assert published == json_schema(Correction)
    jsonschema.validate(wire, published)
    relabelled = {**wire, "action": "relabelled", "code": None, "supersedes": 7,
                  "correction_id": 8}  # fmt: skip
    jsonschema.validate(relabelled, published)
    assert Correction.model_validate(relabelled).supersedes == 7
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**wire, "surprise": 1}, published)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda w: w.update(action="relabelled"),  # keeps its code: refused
        lambda w: w.update(code=None),  # keyed without a code
        lambda w: w.update(action="lost"),
        lambda w: w.update(original_outcome="MAYBE"),
        lambda w: w["code"].update(tracking_id="RR 123"),
        lambda w: w.update(correction_id=0),
        lambda w: w.update(by=""),
        lambda w: w.update(schema="dockscan.correction/2"),
    ],
)
def test_a_correction_refuses_bad_input(mutate) -> None:
    wire = json.loads(keyed().to_json())
    mutate(wire)
    with pytest.raises(ValidationError):
        Correction.model_validate(wire)


def test_evidence_topics_build_and_parse_and_refuse_what_names_no_image() -> None:
    topics = Topics()
    topic = topics.evidence("LGG", "dock03", EVENT, 2)
    assert topic == f"dockscan/v1/LGG/dock03/evidence/{EVENT}/2"
    parts = topics.parse(topic)
    assert (parts.site, parts.station, parts.kind, parts.name) == ("LGG", "dock03", "evidence",
                                                                   f"{EVENT}/2")  # fmt: skip
    assert topics.subscription("evidence", "LGG") == "dockscan/v1/LGG/+/evidence/+/+"
    assert topics.correction("LGG", "dock03") == "dockscan/v1/LGG/dock03/correction"
    for bad in (f"dockscan/v1/LGG/dock03/evidence/{EVENT}/16",
                f"dockscan/v1/LGG/dock03/evidence/{EVENT}/²",
                "dockscan/v1/LGG/dock03/evidence/../0",
                f"dockscan/v1/LGG/dock 03/evidence/{EVENT}/0"):  # fmt: skip
        with pytest.raises(ContractError):
            topics.parse(bad)
    with pytest.raises(ContractError):
        topics.evidence("LGG", "dock03", uuid7(), 16)


def test_asyncapi_describes_the_evidence_channel_as_binary() -> None:
    doc = yaml.safe_load((REPO / "docs/asyncapi.yaml").read_text())
    channel = doc["channels"]["evidence"]
    assert channel["address"] == "dockscan/v1/{site}/{station}/evidence/{event_id}/{index}"
    message = doc["components"]["messages"]["EvidenceImage"]
    assert message["contentType"] == "image/jpeg"
    assert doc["operations"]["evidence-send"]["bindings"]["mqtt"]["qos"] == 1
    assert doc["channels"]["correction"]["address"] == "dockscan/v1/{site}/{station}/correction"
