"""What the site's gateways are doing: who holds the duty lease, and each one's heartbeat.

Every gateway keeps its own counter rows (heartbeat_ms, broker_connected). A gateway counts
as running while its heartbeat is fresh; one killed without a clean stop leaves
broker_connected = 1 behind, so it only counts as connected while its heartbeat is fresh too.
"""

from dataclasses import dataclass
from typing import Any

from gateway import lease
from gateway.web import queries
from gateway.web.formatting import utc_iso

LEADER_NONE, LEADER_EXPIRED = "none", "expired"


@dataclass(frozen=True)
class GatewayHealth:
    """One gateway's counter rows as seen now."""

    id: str
    heartbeat_ms: float | None
    broker_flag: bool  # its broker_connected row says 1
    age_s: float | None  # seconds since its heartbeat (negative: from the future)
    fresh: bool

    @property
    def connected(self) -> bool:
        """Return whether it is running and connected to the broker."""
        return self.fresh and self.broker_flag

    def as_json(self) -> dict[str, Any]:
        """Return the gateway as /healthz and /api/site show it."""
        return {
            "heartbeat_age_s": None if self.age_s is None else round(self.age_s, 1),
            "fresh": self.fresh,
            "broker": "connected" if self.connected else "disconnected",
        }


@dataclass(frozen=True)
class SiteStatus:
    """The duty lease and every gateway's health, read in one go."""

    lease: lease.Holder | None
    gateways: tuple[GatewayHealth, ...]
    limit_s: float

    @property
    def leader(self) -> str:
        """Return the lease holder's id, or 'expired' / 'none' when no one holds it now."""
        if self.lease is None:
            return LEADER_NONE
        return self.lease.holder if self.lease.live else LEADER_EXPIRED

    @property
    def ingest_ok(self) -> bool:
        """Return whether at least one gateway's heartbeat is fresh."""
        return any(g.fresh for g in self.gateways)

    @property
    def broker_ok(self) -> bool:
        """Return whether at least one running gateway is connected to the broker."""
        return any(g.connected for g in self.gateways)

    def ingest_check(self) -> str:
        """Return the ingest check: ok, or what the freshest heartbeat says."""
        if self.ingest_ok:
            return "ok"
        ages = [g.age_s for g in self.gateways if g.age_s is not None]
        if not ages:
            return "no heartbeat yet"
        age = min(ages, key=abs)
        return f"heartbeat {age:.0f} s old (limit {self.limit_s} s)"

    def key(self) -> tuple:
        """Return what the board shows of this, to tell when it changed (ages excluded)."""
        holder = self.lease.holder if self.lease else None
        return (self.leader, holder, tuple((g.id, g.fresh, g.connected) for g in self.gateways))

    def lease_json(self) -> dict[str, Any] | None:
        """Return the lease row as /api/site shows it, or None when it was never taken."""
        if self.lease is None:
            return None
        held = self.lease
        return {
            "holder": held.holder,
            "live": held.live,
            "since": utc_iso(held.since_ms),
            "since_ms": held.since_ms,
            "expires": utc_iso(held.expires_ms),
            "expires_ms": held.expires_ms,
        }

    def gateways_json(self) -> dict[str, dict[str, Any]]:
        """Return {gateway id: health} for /healthz and /api/site."""
        return {g.id: g.as_json() for g in self.gateways}


def read(conn: queries.Conn, limit_s: float, now: int) -> SiteStatus:
    """Read the duty lease and every gateway's heartbeat; `limit_s` is the freshness limit."""
    gateways = []
    for gateway, values in queries.gateway_counters(conn).items():
        beat = values.get("heartbeat_ms")
        age = None if beat is None else (now - beat) / 1000
        fresh = age is not None and -limit_s <= age <= limit_s  # the future is as wrong as old
        flag = values.get("broker_connected") == 1
        gateways.append(GatewayHealth(str(gateway), beat, flag, age, fresh))
    return SiteStatus(lease.holder(conn), tuple(gateways), limit_s)
