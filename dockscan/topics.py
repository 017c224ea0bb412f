"""The MQTT topic tree: builders for each topic and a parser for incoming ones."""

import re
from dataclasses import dataclass

from dockscan.errors import ContractError

DEFAULT_PREFIX = "dockscan/v1"
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
STATION_KINDS = ("parcel", "status", "telemetry", "ack", "reply", "verdict", "correction")
HUB_KINDS = ("holds", "hold-request", "closeout")  # site-wide: {prefix}/{site}/hub/{kind}
QOS = {
    "parcel": 1, "status": 1, "telemetry": 0, "ack": 1, "cmd": 1, "reply": 1, "gateway": 1,
    "verdict": 1, "holds": 1, "hold-request": 1, "closeout": 1, "evidence": 1, "correction": 1,
}  # fmt: skip
RETAIN = {"status": True, "gateway": True, "holds": True}
_EVENT_ID = re.compile(r"^[0-9a-f-]{36}$")
MAX_EVIDENCE_INDEX = 15  # a parcel event lists at most 16 images


@dataclass(frozen=True)
class TopicParts:
    """What a topic names: site, station (or gateway id), kind and command name."""

    site: str
    station: str
    kind: str
    name: str = ""


def check_id(value: str, what: str = "id") -> str:
    """Return `value` if it is a valid site/station/gateway id, else raise ContractError."""
    if not _ID.match(value):
        raise ContractError(f"invalid {what} {value!r}: must match [A-Za-z0-9_-]{{1,64}}")
    return value


@dataclass(frozen=True)
class Topics:
    """Topic builders and parser under one configurable prefix."""

    prefix: str = DEFAULT_PREFIX

    def station(self, site: str, station: str, kind: str) -> str:
        """Return the topic of one station-level kind (parcel, status, ...)."""
        return f"{self.prefix}/{check_id(site, 'site')}/{check_id(station, 'station')}/{kind}"

    def parcel(self, site: str, station: str) -> str:
        """Return the parcel-event topic of a station."""
        return self.station(site, station, "parcel")

    def status(self, site: str, station: str) -> str:
        """Return the retained status topic of a station."""
        return self.station(site, station, "status")

    def telemetry(self, site: str, station: str) -> str:
        """Return the telemetry topic of a station."""
        return self.station(site, station, "telemetry")

    def ack(self, site: str, station: str) -> str:
        """Return the topic on which the gateway acknowledges a station's events."""
        return self.station(site, station, "ack")

    def reply(self, site: str, station: str) -> str:
        """Return the topic on which a station answers commands."""
        return self.station(site, station, "reply")

    def verdict(self, site: str, station: str) -> str:
        """Return the topic on which the gateway publishes a station's parcel verdicts."""
        return self.station(site, station, "verdict")

    def correction(self, site: str, station: str) -> str:
        """Return the topic on which the gateway publishes corrections of a station's parcels."""
        return self.station(site, station, "correction")

    def evidence(self, site: str, station: str, event_id: str, index: int) -> str:
        """Return the topic of one evidence JPEG: the event's id and the image's index in it."""
        if not _EVENT_ID.match(event_id) or not 0 <= index <= MAX_EVIDENCE_INDEX:
            raise ContractError(f"no evidence topic for event {event_id!r}, image {index}")
        return f"{self.station(site, station, 'evidence')}/{event_id}/{index}"

    def hub(self, site: str, kind: str) -> str:
        """Return a site-wide hub topic: holds (retained), hold-request or closeout."""
        if kind not in HUB_KINDS:
            raise ContractError(f"unknown hub topic {kind!r}: one of {', '.join(HUB_KINDS)}")
        return f"{self.prefix}/{check_id(site, 'site')}/hub/{kind}"

    def cmd(self, site: str, station: str, name: str) -> str:
        """Return the topic of one command to a station."""
        return f"{self.station(site, station, 'cmd')}/{check_id(name, 'command')}"

    def gateway_status(self, site: str, gateway: str) -> str:
        """Return the retained status topic of a gateway."""
        return (
            f"{self.prefix}/{check_id(site, 'site')}/gateway/{check_id(gateway, 'gateway')}/status"
        )

    def subscription(self, kind: str, site: str = "+") -> str:
        """Return a wildcard filter for one kind across every station of a site."""
        if kind == "cmd":
            return f"{self.prefix}/{site}/+/cmd/+"
        if kind == "evidence":
            return f"{self.prefix}/{site}/+/evidence/+/+"
        return f"{self.prefix}/{site}/+/{kind}"

    def parse(self, topic: str) -> TopicParts:
        """Split a topic under this prefix into its parts, or raise ContractError."""
        head = self.prefix + "/"
        if not topic.startswith(head):
            raise ContractError(f"topic {topic!r} is not under {self.prefix!r}")
        levels = topic[len(head) :].split("/")
        if len(levels) == 3 and levels[2] in STATION_KINDS:
            site, station, kind = levels
            return TopicParts(check_id(site, "site"), check_id(station, "station"), kind)
        if len(levels) == 3 and levels[1] == "hub" and levels[2] in HUB_KINDS:
            return TopicParts(check_id(levels[0], "site"), "hub", levels[2])
        if len(levels) == 4 and levels[2] == "cmd":
            site, station, _, name = levels
            return TopicParts(check_id(site, "site"), check_id(station, "station"), "cmd", name)
        if len(levels) == 5 and levels[2] == "evidence":
            return self._evidence_parts(levels)
        if len(levels) == 4 and levels[1] == "gateway" and levels[3] == "status":
            return TopicParts(check_id(levels[0], "site"), check_id(levels[2]), "gateway-status")
        raise ContractError(f"topic {topic!r} is not part of the dockscan tree")

    @staticmethod
    def _evidence_parts(levels: list[str]) -> TopicParts:
        """Return an evidence topic's parts; `name` is '<event id>/<index>'."""
        site, station, _, event_id, index = levels
        if not _EVENT_ID.match(event_id):
            raise ContractError(f"evidence topic names no event id: {event_id!r}")
        if not (index.isascii() and index.isdigit() and int(index) <= MAX_EVIDENCE_INDEX):
            raise ContractError(f"evidence image index must be 0-{MAX_EVIDENCE_INDEX}: {index!r}")
        station = check_id(station, "station")
        return TopicParts(check_id(site, "site"), station, "evidence", f"{event_id}/{int(index)}")
