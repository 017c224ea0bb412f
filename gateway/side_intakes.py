"""Messages the ingest applies beside the parcel batches: hold requests and evidence images.

Each kind waits in its own intake, is written in a commit of its own (hold requests before the
batch, so its parcels see the holds) and PUBACKed only after that commit. A broker whose ACL
predates a kind refuses its subscription; the ingest then runs without it.
"""

from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from dockscan.config import SiteConfig
from dockscan.topics import Topics
from gateway.clock import now_ms
from gateway.evidence import EvidenceIntake
from gateway.hold_requests import HoldRequests
from gateway.session import evidence_filter

Guarded = Callable[[str, Callable[[Any], object]], bool]  # Ingest._guarded


class SideIntakes:
    """The hold-request and evidence intakes of a gateway that owns the site's liveness."""

    def __init__(self, cfg: SiteConfig, topics: Topics, group: str) -> None:
        self.holds = HoldRequests(cfg, topics.hub(cfg.site.id, "hold-request"))
        self.evidence = EvidenceIntake(topics, int(cfg.clearing.evidence_max_kb * 1024))
        self.evidence_filter = evidence_filter(topics, cfg.site.id, group)

    def __bool__(self) -> bool:
        """Return whether anything waits for its commit."""
        return bool(self.holds) or bool(self.evidence)

    @property
    def optional(self) -> set[str]:
        """Return the filters a broker with an older ACL may refuse."""
        return {self.holds.topic, self.evidence_filter}

    def take(self, msg: mqtt.MQTTMessage) -> bool:
        """Keep a hold request or an evidence image; return False for anything else."""
        if msg.topic == self.holds.topic:
            self.holds.add(msg.payload, now_ms(), msg.mid, msg.qos)
        elif "/evidence/" in msg.topic:
            self.evidence.offer(msg.topic, msg.payload, now_ms(), msg.mid, msg.qos)
        else:
            return False
        return True

    def forget_pubacks(self) -> None:
        """Drop the packet ids of a closed connection (the broker sends those messages again)."""
        self.holds.pubacks.clear()
        self.evidence.pubacks.clear()

    def apply(self, guarded: Guarded, count: Callable[[dict], None], client: Any, up: bool) -> None:
        """Commit what waits, each kind on its own, then PUBACK it (kept if the commit failed)."""
        for what, intake in (("applying hold requests", self.holds),
                             ("storing evidence", self.evidence)):  # fmt: skip
            if not intake or not guarded(what, lambda s, i=intake: count(i.apply(s.conn))):
                continue
            if up:
                client.ack_many(intake.pubacks)
            intake.pubacks = []
