"""The published contract documents stay in step with the models."""

import json
from pathlib import Path

import yaml

from dockscan.schema import CHANNELS, render_all
from dockscan.topics import QOS, RETAIN

REPO = Path(__file__).resolve().parents[1]


def test_committed_schemas_match_the_models() -> None:
    for name, text in render_all().items():
        path = REPO / "docs" / (name if name.endswith(".yaml") else f"schema/{name}")
        assert path.exists(), f"{path} missing: run `dockscan schema`"
        assert path.read_text() == text, f"{path} is stale: run `dockscan schema`"


def test_asyncapi_describes_every_topic_with_qos_and_retain() -> None:
    doc = yaml.safe_load((REPO / "docs" / "asyncapi.yaml").read_text())
    assert doc["asyncapi"] == "3.0.0"
    for cid, address, model, action, qos, retain, _ in CHANNELS:
        assert doc["channels"][cid]["address"] == "dockscan/v1/" + address
        binding = doc["operations"][f"{cid}-{action}"]["bindings"]["mqtt"]
        kind = "gateway" if cid == "gateway-status" else cid
        assert binding == {"qos": QOS[kind], "retain": RETAIN.get(kind, False),
                           "bindingVersion": "0.2.0"}  # fmt: skip
        assert (qos, retain) == (binding["qos"], binding["retain"])
        ref = doc["components"]["messages"][model.__name__]["payload"]["$ref"]
        schema = json.loads((REPO / "docs" / ref).read_text())
        assert schema["properties"]["schema"]["const"] == model.model_fields["schema_"].default
