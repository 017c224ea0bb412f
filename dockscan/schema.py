"""Render the contract documents: a JSON Schema per payload and the AsyncAPI 3.0 document."""

import json

import yaml

from dockscan import __version__
from dockscan.correction_events import Correction
from dockscan.events import (
    Ack,
    Command,
    CommandResult,
    Contract,
    GatewayStatus,
    ParcelEvent,
    StationStatus,
    Telemetry,
)
from dockscan.hub_events import Closeout, HoldList, HoldRequest, VerdictBatch

SCHEMA_BASE = "https://dockscan.dev/schema/v1/"

# (channel id, address under the prefix, model, direction, qos, retain, description)
CHANNELS: list[tuple[str, str, type[Contract], str, int, bool, str]] = [
    ("parcel", "{site}/{station}/parcel", ParcelEvent, "send", 1, False,
     "Parcel events from a station's outbox. Never retained. Duplicates are possible: "
     "de-duplicate on event_id, order by (station, seq)."),
    ("status", "{site}/{station}/status", StationStatus, "send", 1, True,
     "Retained station status; also the station's Will (state offline). Ignore an offline "
     "whose session is older than the current online."),
    ("telemetry", "{site}/{station}/telemetry", Telemetry, "send", 0, False,
     "Station health every telemetry interval: counters, device states, outbox depth."),
    ("ack", "{site}/{station}/ack", Ack, "receive", 1, False,
     "Event ids the gateway committed; the station deletes them from its outbox."),
    ("cmd", "{site}/{station}/cmd/{name}", Command, "receive", 1, False,
     "Commands to a station: zero, tare, resend."),
    ("reply", "{site}/{station}/reply", CommandResult, "send", 1, False,
     "A station's answer to a command, matched by request_id."),
    ("gateway-status", "{site}/gateway/{gateway}/status", GatewayStatus, "send", 1, True,
     "Retained gateway status; also the gateway's Will."),
    ("verdict", "{site}/{station}/verdict", VerdictBatch, "receive", 1, False,
     "Reconciliation verdicts of a station's stored parcels (matched, unexpected, duplicate; "
     "weight against the declared). Sent after the ack of the batch that stored them, and "
     "again with revision + 1 when a later manifest changes one. De-duplicate on "
     "(event_id, revision)."),
    ("holds", "{site}/hub/holds", HoldList, "receive", 1, True,
     "Retained list of every current customs hold of the site. Stations keep the latest "
     "version locally, so a held parcel is flagged even while the gateway is unreachable."),
    ("hold-request", "{site}/hub/hold-request", HoldRequest, "send", 1, False,
     "An authorised integrator sets or releases a hold (the broker's ACL decides who may "
     "publish here); the gateway applies it and publishes a new hold list."),
    ("closeout", "{site}/hub/closeout", Closeout, "receive", 1, False,
     "A manifest was closed: expected, seen, missing, unexpected, weight and hold counts, "
     "the missing ids, and the API path of the full report."),
    ("correction", "{site}/{station}/correction", Correction, "receive", 1, False,
     "A clerk resolved a parcel the station could not read (NO_READ, MULTI_READ, "
     "INVALID_CODE): a keyed code (checked, with its normalised tracking id), or relabelled, "
     "or returned to the sorter. The original event is never changed. A later correction of "
     "the same parcel names the one it supersedes. De-duplicate on correction_id."),
]  # fmt: skip
# Channels whose payload is not JSON: (id, address, content type, direction, qos, retain, doc)
BINARY_CHANNELS: list[tuple[str, str, str, str, int, bool, str]] = [
    ("evidence", "{site}/{station}/evidence/{event_id}/{index}", "image/jpeg", "send", 1, False,
     "One evidence JPEG of a parcel the station could not read: the frames around its weight. "
     "index is the image's position in the event's images list. Sent after the event and "
     "never before it is stored; an image may arrive late or not at all (the gateway shows "
     "it as missing). At most the station's evidence_max_kb."),
]  # fmt: skip


def json_schema(model: type[Contract]) -> dict:
    """Return the JSON Schema of one payload model, as serialised on the wire."""
    schema = model.model_json_schema(by_alias=True, mode="serialization")
    name = model.model_fields["schema_"].default
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_BASE + name.replace("/", "-") + ".json",
        **schema,
    }
    return schema


def _file_name(model: type[Contract]) -> str:
    """Return the schema file name of a model, e.g. dockscan.parcel-1.json."""
    return model.model_fields["schema_"].default.replace("/", "-") + ".json"


def asyncapi(prefix: str = "dockscan/v1") -> dict:
    """Return the AsyncAPI 3.0 document describing every topic of the contract."""
    channels, operations, messages = {}, {}, {}
    params = {
        "site": {"description": "Site id, [A-Za-z0-9_-]+"},
        "station": {"description": "Station id, [A-Za-z0-9_-]+"},
        "name": {"description": "Command name", "enum": ["zero", "tare", "resend"]},
        "gateway": {"description": "Gateway id, [A-Za-z0-9_-]+"},
        "event_id": {"description": "The parcel event's id (UUIDv7)"},
        "index": {"description": "Position of the image in the event's images list, 0-15"},
    }
    entries = [
        (cid, address, model.__name__, "application/json",
         {"$ref": f"./schema/{_file_name(model)}"}, action, qos, retain, doc)
        for cid, address, model, action, qos, retain, doc in CHANNELS
    ] + [
        (cid, address, cid.capitalize() + "Image", content_type,
         {"type": "string", "format": "binary"}, action, qos, retain, doc)
        for cid, address, content_type, action, qos, retain, doc in BINARY_CHANNELS
    ]  # fmt: skip
    for cid, address, msg, content_type, payload, action, qos, retain, doc in entries:
        messages[msg] = {"name": msg, "contentType": content_type, "payload": payload}
        channels[cid] = {
            "address": f"{prefix}/{address}",
            "description": doc,
            "messages": {msg: {"$ref": f"#/components/messages/{msg}"}},
            "parameters": {p: {"$ref": f"#/components/parameters/{p}"} for p in _names(address)},
        }
        operations[f"{cid}-{action}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{cid}"},
            "summary": doc.split(".")[0] + ".",
            "bindings": {"mqtt": {"qos": qos, "retain": retain, "bindingVersion": "0.2.0"}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "dockscan MQTT contract",
            "version": f"1 (dockscan {__version__})",
            "description": "Topics and JSON payloads between dock stations, the gateway and "
            "integrators. Operations are written from a station's point of view "
            "(send = the station publishes).",
        },
        "defaultContentType": "application/json",
        "servers": {
            "site-broker": {"host": "broker:1883", "protocol": "mqtt", "protocolVersion": "5"}
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "parameters": params},
    }


def _names(address: str) -> list[str]:
    """Return the parameter names of a channel address, in order."""
    return [part[1:-1] for part in address.split("/") if part.startswith("{")]


def render_all() -> dict[str, str]:
    """Return every contract document as file name -> text."""
    out = {
        _file_name(model): json.dumps(json_schema(model), indent=2, sort_keys=True) + "\n"
        for _, _, model, *_ in CHANNELS
    }
    out["asyncapi.yaml"] = yaml.safe_dump(asyncapi(), sort_keys=False, width=100)
    return out
