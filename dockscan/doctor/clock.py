"""Clock offset to the gateway host, from the `Date` header of its `/healthz` over HTTP.

The broker's clock is not visible over MQTT, and the gateway's retained status carries the
time it connected, not the time now (and the station ACL may not read it). The Date header
has one-second resolution, so the check polls until the gateway's second ticks over: the
tick lies between the last reply with the old second and the first with the new one.
"""

import http.client
import time
from email.utils import parsedate_to_datetime

from dockscan.doctor.model import Context, Result, fail, ok, warn

WARN_S = 1.0
FAIL_S = 3.0
POLL_S = 0.02


def gateway_hosts(ctx: Context) -> list[tuple[str, int]]:
    """Return where the gateway's HTTP may answer: its bind address, else the broker's host."""
    host, _, port_text = ctx.cfg.gateway.http_bind.rpartition(":")
    host = host.strip("[]")
    port = int(port_text) if port_text.isdigit() else 8080
    out = []
    if host not in ("", "0.0.0.0", "::"):
        out.append((host, port))
    if ctx.cfg.broker.host not in {h for h, _ in out}:
        out.append((ctx.cfg.broker.host, port))
    return out


def _date(conn: http.client.HTTPConnection) -> tuple[float, float, int] | None:
    """GET /healthz; return (sent, received, server's epoch second), or None without a Date."""
    sent = time.time()
    conn.request("GET", "/healthz", headers={"Connection": "keep-alive"})
    resp = conn.getresponse()
    resp.read()
    received = time.time()
    header = resp.getheader("Date")
    if not header:
        return None
    return sent, received, int(parsedate_to_datetime(header).timestamp())


def measure(host: str, port: int, timeout: float) -> tuple[float, float]:
    """Return (offset of the gateway's clock minus ours in s, uncertainty in s)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        first = _date(conn)
        if first is None:
            raise ValueError("no Date header in the reply")
        prev, deadline = first, time.monotonic() + min(timeout, 2.5)
        while time.monotonic() < deadline:
            time.sleep(POLL_S)
            cur = _date(conn)
            if cur is None:
                raise ValueError("no Date header in the reply")
            if cur[2] != prev[2]:
                tick_local = (prev[0] + cur[1]) / 2  # the tick is in (prev sent, cur received)
                return cur[2] - tick_local, (cur[1] - prev[0]) / 2
            prev = cur
        # no tick seen (should not happen): fall back to the midpoint of one request
        mid = (first[0] + first[1]) / 2
        return first[2] + 0.5 - mid, 0.5 + (first[1] - first[0]) / 2
    finally:
        conn.close()


def clock_check(ctx: Context) -> Result:
    """Report our clock's offset to the gateway host: warn over 1 s, fail over 3 s."""
    errors = []
    for host, port in gateway_hosts(ctx):
        url = f"http://{host}:{port}/healthz"
        try:
            offset, error = measure(host, port, ctx.timeout_s)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            errors.append(f"{url}: {getattr(exc, 'strerror', None) or exc}")
            continue
        ahead = "behind" if offset > 0 else "ahead of"
        detail = f"{abs(offset):.2f} s {ahead} the gateway (±{error:.2f} s, Date header of {url})"
        fix = "sync this host's clock with NTP (timedatectl set-ntp true; chronyc tracking)"
        if abs(offset) > FAIL_S:
            return fail("clock", detail + f"; edge timestamps must be within {FAIL_S:g} s", fix)
        if abs(offset) > WARN_S:
            return warn("clock", detail, fix)
        return ok("clock", detail)
    return warn(
        "clock",
        "no clock source reachable (" + "; ".join(errors) + ")",
        f"start the gateway UI (gateway.http_bind {ctx.cfg.gateway.http_bind}) to compare clocks",
    )
