"""The site duties (stale stations, seq gaps, retention, hub publishing), run by the lease holder.

Every gateway with liveness duties enabled renews the lease once a tick; the one that holds it
runs the checks right after renewing, so a gateway that lost the lease stops within a tick.
Between ticks the holder also publishes the hold list and the outbound queue (gateway/outbound.py).
Status and telemetry are applied by every gateway that receives them, holder or not.
"""

import logging
import time

import paho.mqtt.client as mqtt

from dockscan.config import ClearingConfig, GatewayConfig
from gateway import evidence, liveness
from gateway.clock import now_ms
from gateway.lease import Lease, holder
from gateway.outbound import HubPublisher
from gateway.retention import Retention
from gateway.store import Store

logger = logging.getLogger(__name__)
GAP_CHECK_S = 2.0
EVIDENCE_CHECK_S = 60.0


class Duties:
    """One gateway's part in the site duties: the lease, and the work while it holds it."""

    def __init__(
        self,
        gw: GatewayConfig,
        defaults: liveness.Defaults,
        holder_id: str,
        hub: HubPublisher | None = None,
        clearing: ClearingConfig | None = None,
    ) -> None:
        self.gw, self.defaults, self.holder_id = gw, defaults, holder_id
        self.lease = Lease(holder_id)
        self.retention = Retention(gw)
        self.hub = hub
        self.clearing = clearing or ClearingConfig()
        self.next_gaps = self.next_evidence = 0.0

    @property
    def held(self) -> bool:
        """Return whether this gateway held the lease at its last renewal."""
        return self.lease.held

    def tick(self, store: Store) -> bool:
        """Renew the lease; while held, check staleness (and seq gaps) and run retention."""
        conn, was = store.conn, self.lease.held
        before = None if was else holder(conn)
        if not self.lease.renew(conn):
            if was:
                now = holder(conn)
                logger.warning("%s lost the site duties to %s", self.holder_id,
                               now.holder if now else "nobody")  # fmt: skip
            return False
        if not was and self.hub is not None:
            self.hub.reset()  # the previous holder's last list and rows may not have gone out
        if not was and before is not None and before.holder != self.holder_id:
            if before.expires_ms == 0:  # released at a clean stop
                logger.info("%s took the site duties %s released", self.holder_id, before.holder)
                return self._run(store)
            logger.warning(
                "%s took over the site duties from %s (its lease ran out %d ms ago)",
                self.holder_id, before.holder, max(0, before.now_ms - before.expires_ms),
            )  # fmt: skip
        return self._run(store)

    def _run(self, store: Store) -> bool:
        """Run the duties once (the gap check every GAP_CHECK_S); return True."""
        now = time.monotonic()
        gaps = now >= self.next_gaps
        if gaps:
            self.next_gaps = now + GAP_CHECK_S
        grace = int(self.gw.seq_gap_grace_s * 1000)
        store.check_liveness(self.defaults, grace if gaps else None)
        self.retention.step(store.conn, now_ms())
        if now >= self.next_evidence:  # one slice a tick while over a bound, else every minute
            full = evidence.purge(store.conn, self.clearing, now_ms()) >= evidence.SLICE_ROWS
            self.next_evidence = now if full else now + EVIDENCE_CHECK_S
        return True

    def publish(self, store: Store, client: mqtt.Client) -> None:
        """While held: publish the hold list and outbound rows (every STEP_S, on the loop)."""
        if self.hub is not None and self.lease.held and self.hub.due():
            self.hub.step(store.conn, client)

    def release(self, store: Store) -> None:
        """Give the lease up (a clean stop), so another gateway takes the duties at once."""
        self.lease.release(store.conn)
