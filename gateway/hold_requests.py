"""Hold requests from MQTT: kept unacknowledged until applied (or dead-lettered) in one commit.

The ingest hands every message on the site's hold-request topic here, not to the parcel batch.
Each loop the pending requests are validated (a bad one becomes a dead letter with its reason,
as a bad parcel does), applied in arrival order in one transaction, and only then PUBACKed:
a gateway killed before the commit gets them again from the broker, and gateway/holds.py skips
a request already in the history, so applying twice writes nothing.
"""

import logging
from typing import Any

from pydantic import ValidationError

from dockscan.config import SiteConfig
from dockscan.hub_events import HoldRequest
from dockscan.logs import RateLimitedLog
from gateway import deadletters
from gateway.clock import now_ms
from gateway.deadletters import DeadLetter, dead_letter
from gateway.holds import Change, HoldError, apply_all, from_request
from gateway.manifests.importer import classifier_for
from gateway.store import transaction
from gateway.validate import Rejected
from gateway.validate import _reason as validation_reason

logger = logging.getLogger(__name__)


class HoldRequests:
    """The hold requests received since the last commit, and their packet ids to PUBACK."""

    def __init__(self, cfg: SiteConfig, topic: str) -> None:
        self.topic = topic
        self.classifier = classifier_for(cfg)
        self.max_bytes = cfg.gateway.max_payload_bytes
        self.keep = cfg.gateway.dead_letter_payload_bytes
        self.pending: list[tuple[bytes, int]] = []  # payload, received ms
        self.pubacks: list[tuple[int, int]] = []  # mid, qos
        self.rlog = RateLimitedLog(logger)

    def __bool__(self) -> bool:
        """Return whether requests wait to be applied."""
        return bool(self.pending)

    def add(self, payload: bytes, received_ms: int, mid: int, qos: int) -> None:
        """Keep one request until the next apply()."""
        self.pending.append((payload, received_ms))
        if qos:
            self.pubacks.append((mid, qos))

    def decode(self, payload: bytes) -> HoldRequest:
        """Return the request a payload holds, or raise Rejected with a one-line reason."""
        if len(payload) > self.max_bytes:
            raise Rejected(f"oversized payload: {len(payload)} bytes > {self.max_bytes}")
        try:
            return HoldRequest.model_validate_json(payload)
        except ValidationError as exc:
            raise Rejected(validation_reason(exc, payload, HoldRequest)) from None

    def apply(self, conn: Any) -> dict[str, float]:
        """Apply the pending requests in one transaction; return the dead-letter counts.

        On an error nothing is committed and the requests stay pending (the caller retries).
        """
        changes: list[tuple[Change, bytes, int]] = []
        letters: list[DeadLetter] = []
        for payload, received in self.pending:
            try:
                c = from_request(self.decode(payload), self.classifier)
            except Rejected as exc:
                letters.append(self._dead(payload, received, exc.reason))
                continue
            except HoldError as exc:
                letters.append(self._dead(payload, received, f"hold refused: {exc}"))
                continue
            changes.append((c, payload, received))
        with transaction(conn):
            results = apply_all(conn, [c for c, _, _ in changes], now_ms())
            for (c, payload, received), result in zip(changes, results, strict=True):
                if isinstance(result, HoldError):
                    letters.append(self._dead(payload, received, f"hold refused: {result}"))
                elif result.changed:
                    logger.info("hold %s %s by %s over MQTT (%s)", c.action, c.tracking_id,
                                c.actor, c.reason or result.previous)  # fmt: skip
            new, repeated = deadletters.write(conn, letters) if letters else (0, 0)
        self.pending = []
        return {"dead_letters_total": new, "dead_letters_repeated_total": repeated}

    def _dead(self, payload: bytes, received: int, reason: str) -> DeadLetter:
        """Return the dead letter of a refused request (logged, rate-limited)."""
        self.rlog.warning("dead:hold", "dead letter from %s: %s", self.topic, reason)
        return dead_letter(received, self.topic, None, payload, reason, self.keep)
