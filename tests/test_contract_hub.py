"""The hub payloads: verdicts, hold lists, hold requests and close-outs on the wire."""

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

from dockscan.hub_events import Closeout, Hold, HoldList, HoldRequest, Verdict, VerdictBatch
from dockscan.ids import uuid7
from dockscan.schema import json_schema
from dockscan.topics import Topics

REPO = Path(__file__).resolve().parents[1]
TS = datetime(2026, 11, 27, 9, 31, 12, 481000, tzinfo=UTC)


def verdict_batch() -> VerdictBatch:
    """Return a batch with one amber verdict."""
    verdict = Verdict(event_id=uuid7(), tracking_id="RR123456785CN", ts=TS, match="MATCHED",
                      weight="WEIGHT_OVER", manifest_id="mawb:176-12345675", declared_kg=2.0,
                      measured_kg=3.4, delta_kg=1.4, tolerance_kg=0.22)  # fmt: skip
    return VerdictBatch(site="LGG", station="dock07-a", gateway="gw-1", ts=TS, verdicts=[verdict])


def hold_list() -> HoldList:
    """Return a list with one hold."""
    hold = Hold(tracking_id="RR123456785CN", reason="customs_referral", note="H7 risk", since=TS)
    return HoldList(site="LGG", version=3, ts=TS, holds=[hold])


def closeout() -> Closeout:
    """Return a close-out of a flight."""
    return Closeout(site="LGG", manifest_id="flight:LH8400:2026-11-27", kind="flight",
                    reference="LH8400 2026-11-27", closed=TS, closed_by="ops", expected=10,
                    seen=8, missing=2, unexpected=1, weight_over=1, weight_under=0,
                    holds_seen=1, missing_ids=["RR123456785CN", "RR000000015CN"],
                    missing_truncated=False,
                    report_path="/api/v1/manifests/flight:LH8400:2026-11-27/report")  # fmt: skip


@pytest.mark.parametrize("make", [verdict_batch, hold_list, closeout])
def test_round_trip_and_the_published_schema_accepts_it(make) -> None:
    model = make()
    wire = json.loads(model.to_json())
    assert wire["ts" if "ts" in wire else "closed"].endswith(".481Z")
    assert type(model).model_validate_json(model.to_json()) == model
    name = wire["schema"].replace("/", "-") + ".json"
    published = json.loads((REPO / "docs" / "schema" / name).read_text())
    assert published == json_schema(type(model))
    jsonschema.validate(wire, published)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**wire, "surprise": 1}, published)


def test_hub_payloads_refuse_bad_input() -> None:
    wire = json.loads(verdict_batch().to_json())
    for mutate in (
        lambda w: w["verdicts"][0].update(match="MAYBE"),
        lambda w: w["verdicts"][0].update(tracking_id="RR 123"),
        lambda w: w["verdicts"][0].update(revision=-1),
        lambda w: w.update(schema="dockscan.verdict/2"),
    ):
        bad = json.loads(json.dumps(wire))
        mutate(bad)
        with pytest.raises(ValidationError):
            VerdictBatch.model_validate(bad)
    with pytest.raises(ValidationError, match="needs a reason"):
        HoldRequest(action="set", tracking_id="RR123456785CN", sender="customs", ts=TS)
    with pytest.raises(ValidationError):
        HoldRequest(action="set", tracking_id="X", reason="because", sender="c", ts=TS)
    ok = HoldRequest(action="release", tracking_id="RR123456785CN", sender="customs", ts=TS)
    assert json.loads(ok.to_json())["schema"] == "dockscan.hold-request/1"


def test_hub_topics_build_and_parse() -> None:
    topics = Topics()
    assert topics.verdict("LGG", "dock07-a") == "dockscan/v1/LGG/dock07-a/verdict"
    assert topics.hub("LGG", "holds") == "dockscan/v1/LGG/hub/holds"
    for kind in ("holds", "hold-request", "closeout"):
        parts = topics.parse(topics.hub("LGG", kind))
        assert (parts.site, parts.station, parts.kind) == ("LGG", "hub", kind)
    assert topics.parse("dockscan/v1/LGG/hub/parcel").kind == "parcel"  # a station named hub
    with pytest.raises(Exception, match="unknown hub topic"):
        topics.hub("LGG", "everything")
