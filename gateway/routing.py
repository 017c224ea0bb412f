"""Sort a batch's raw messages into parcels, station signals and dead letters (never raises).

One tight loop per batch rather than one call per arriving packet: pydantic's validator then
runs with warm caches instead of between paho's packet handling.
"""

import logging

from dockscan.config import GatewayConfig
from dockscan.events import ParcelEvent
from dockscan.logs import RateLimitedLog
from dockscan.topics import Topics
from gateway.deadletters import dead_letter
from gateway.store import Batch
from gateway.validate import Rejected, validate

logger = logging.getLogger(__name__)


def sort_batch(batch: Batch, topics: Topics, gw: GatewayConfig, rlog: RateLimitedLog) -> None:
    """Validate the batch's messages into its parcels, signals and dead letters."""
    max_bytes, keep = gw.max_payload_bytes, gw.dead_letter_payload_bytes
    for topic, payload, received in batch.messages:
        station = None
        try:
            value = validate(topics, topic, payload, max_bytes)
        except Rejected as exc:
            reason, station = exc.reason, exc.station
        except Exception as exc:  # the loop never dies on input
            logger.exception("unexpected error validating a message on %s", topic)
            reason = f"internal error: {type(exc).__name__}: {exc}"
        else:
            if value is None:
                logger.info("station retired (retained status cleared on %s)", topic)
            elif isinstance(value, ParcelEvent):
                batch.parcels.append((value, payload, received))
            else:
                batch.signals.append((value, received))  # type: ignore[arg-type]
            continue
        # Not acknowledged end to end: the edge keeps the original and re-sends it, and each
        # arrival of the same bytes bumps one row's `repeats` (see gateway/deadletters.py).
        batch.dead.append(dead_letter(received, topic, station, payload, reason, keep))
        rlog.warning("dead:" + reason[:20], "dead letter from %.200s: %s", topic, reason)
    batch.messages = []
