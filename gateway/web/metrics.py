"""Prometheus metrics (text format 0.0.4, written by hand) and the /healthz probe."""

import math
from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Response, current_app

from gateway.reconcile import queue
from gateway.web import queries, site, web
from gateway.web.db import problem
from gateway.web.formatting import now_ms
from gateway.web.hub_pages import board_panel

bp = Blueprint("metrics", __name__)
LATENCY_BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
                   "+Inf")  # fmt: skip
COUNTERS = (
    ("events_ingested_total", "Parcel events stored by the ingest."),
    ("events_duplicate_total", "Parcel events received again and ignored (already stored)."),
    ("dead_letters_total", "Distinct payloads rejected into the dead-letter table."),
    ("dead_letters_repeated_total", "Rejected payloads received again (a row's repeats went up)."),
    ("acks_sent_total", "Ack messages published after a commit."),
    ("batches_total", "Batches committed by the ingest."),
    ("evidence_received_total", "Evidence images received from the stations and stored."),
    ("evidence_dropped_oversize_total", "Evidence images over [clearing] evidence_max_kb."),
    ("evidence_dropped_not_jpeg_total", "Evidence messages that were not a whole JPEG."),
    ("evidence_dropped_busy_total", "Evidence images dropped while too many waited for the store."),
    ("evidence_dropped_bad_topic_total", "Evidence messages on a topic naming no event and index."),
)
STATES = ("online", "offline", "stale", "unknown")
TABLE_COUNT_TTL_MS = 10_000
UNKNOWN = "unknown: the store is down"


def _label(value: str) -> str:
    """Escape a label value for the Prometheus text format."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    """Render a sample value exactly: whole numbers as integers, others round-trip (repr)."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _family(name: str, kind: str, help_text: str, samples: Iterable[tuple[str, float]]) -> str:
    """Render one metric family: HELP, TYPE and its samples (suffix+labels, value)."""
    lines = [f"# HELP dockscan_{name} {help_text}", f"# TYPE dockscan_{name} {kind}"]
    lines += [f"dockscan_{name}{labels} {_number(value)}" for labels, value in samples]
    return "\n".join(lines)


def _cumulative_buckets(counters: dict[str, float]) -> Iterable[tuple[str, float]]:
    """Yield the latency buckets as cumulative counts; a missing bucket repeats the one below."""
    running = 0.0
    for le in LATENCY_BUCKETS:
        default = counters.get("ingest_latency_seconds_count", running) if le == "+Inf" else running
        running = max(running, counters.get(f"ingest_latency_seconds_bucket:{le}", default))
        yield f'_bucket{{le="{le}"}}', running


def _table_counts(state: Any, conn: Any) -> dict[str, int]:
    """Return table row counts, recounted at most every TABLE_COUNT_TTL_MS (a full index walk)."""
    cached = state.extra.get("table_counts")
    now = now_ms()
    if cached is None or now - cached[0] > TABLE_COUNT_TTL_MS:
        cached = (now, queries.table_counts(conn))
        state.extra["table_counts"] = cached
    return cached[1]


def render_metrics() -> str:
    """Collect counters, table sizes and station states into the Prometheus text format."""
    state = web()
    conn = state.db.conn()
    counters = queries.counters(conn)
    parts = [
        _family(name, "counter", text, [("", counters.get(name, 0.0))]) for name, text in COUNTERS
    ]
    buckets = list(_cumulative_buckets(counters))
    buckets += [
        ("_sum", counters.get("ingest_latency_seconds_sum", 0.0)),
        ("_count", counters.get("ingest_latency_seconds_count", 0.0)),
    ]
    help_text = "Gateway arrival to commit."
    parts.append(_family("ingest_latency_seconds", "histogram", help_text, buckets))
    status = site.read(conn, current_app.config["HEALTH_MAX_HEARTBEAT_S"], now_ms())
    parts.append(
        _family("broker_connected", "gauge",
                "1 while a gateway with a fresh heartbeat is connected to the broker.",
                [("", float(status.broker_ok))])
    )  # fmt: skip
    parts.append(
        _family("gateway_broker_connected", "gauge",
                "1 while this gateway's heartbeat is fresh and it is connected to the broker.",
                [(f'{{gateway="{_label(g.id)}"}}', float(g.connected)) for g in status.gateways])
    )  # fmt: skip
    parts.append(
        _family("gateway_heartbeat_age_seconds", "gauge",
                "Seconds since this gateway's ingest loop last ran.",
                [(f'{{gateway="{_label(g.id)}"}}', g.age_s) for g in status.gateways
                 if g.age_s is not None])
    )  # fmt: skip
    parts.append(
        _family("site_leader", "gauge", "1 for the gateway holding a live site duty lease.",
                [(f'{{gateway="{_label(status.leader)}"}}', 1.0)]
                if status.lease and status.lease.live else [])
    )  # fmt: skip
    heartbeat = counters.get("heartbeat_ms")
    age = (now_ms() - heartbeat) / 1000 if heartbeat else -1
    parts.append(
        _family("ingest_heartbeat_age_seconds", "gauge",
                "Seconds since the ingest loop last ran (-1: never).", [("", age)])
    )  # fmt: skip
    tables = _table_counts(state, conn)
    parts.append(
        _family("table_rows", "gauge", "Rows per store table.",
                [(f'{{table="{t}"}}', n) for t, n in tables.items()])
    )  # fmt: skip
    parts.append(
        _family("verdict_queue_depth", "gauge",
                "Stored parcels waiting for their verdict (a few batches while the reconciler"
                " keeps up).", [("", float(queue.depth(conn)))])
    )  # fmt: skip
    parts.append(
        _family("database_size_bytes", "gauge",
                "Store size on disk (SQLite: file plus WAL; PostgreSQL: pg_database_size).",
                [("", state.db.size_bytes())])
    )  # fmt: skip
    stations = state.board.get(conn, state.cfg)
    parts.append(
        _family("station_state", "gauge", "1 for the station's current state.",
                [(f'{{station="{_label(s["id"])}",state="{st}"}}', float(s["state"] == st))
                 for s in stations for st in STATES])
    )  # fmt: skip
    parts.append(
        _family("station_outbox_depth", "gauge", "Events waiting in the station's outbox.",
                [(f'{{station="{_label(s["id"])}"}}', s["outbox_depth"])
                 for s in stations if s["outbox_depth"] is not None])
    )  # fmt: skip
    parts.append(
        _family("station_parcels_today", "gauge", "Parcels since local midnight.",
                [(f'{{station="{_label(s["id"])}"}}', s["parcels_today"]) for s in stations])
    )  # fmt: skip
    parts += _clearing(state, conn)
    return "\n".join(parts) + "\n"


def _clearing(state: Any, conn: Any) -> list[str]:
    """Return the clearing desk's families: unresolved per station, time to clear, missing."""
    clearing = board_panel(conn)["clearing"]
    return [
        _family("clearing_unresolved", "gauge",
                "Unread parcels (no-read, multi-read, invalid code) not resolved yet.",
                [(f'{{station="{_label(s)}"}}', n) for s, n in clearing["unresolved"].items()]),
        _family("clearing_median_seconds", "gauge",
                "Median seconds from arrival to first correction, last 24 hours.",
                [(f'{{station="{_label(s)}"}}', v) for s, v in clearing["median_s"].items()]),
        _family("evidence_missing", "gauge",
                "Images listed by unresolved parcels of the last 24 hours that never arrived.",
                [("", clearing["missing"])]),
    ]  # fmt: skip


@bp.route("/metrics")
def metrics() -> Response:
    """Serve the metrics in the Prometheus text exposition format."""
    return Response(render_metrics(), mimetype="text/plain; version=0.0.4; charset=utf-8")


@bp.route("/healthz")
def healthz() -> Any:
    """Answer 200 when the store is readable and a fresh gateway is connected to the broker."""
    # checks.store: "ok" or "down: <reason>" (checks.database, kept for old probes, says the
    # same as "unreadable: <reason>"); checks.leader: the duty lease holder, or "none" /
    # "expired" (shown, not a failure); gateways: each one's heartbeat age and broker state.
    checks: dict[str, Any] = {}
    status = None
    try:
        status = site.read(web().db.conn(), current_app.config["HEALTH_MAX_HEARTBEAT_S"], now_ms())
    except Exception as exc:  # any failure to read is a failed check
        reason = problem(exc)
        checks.update(database=f"unreadable: {reason}", store=f"down: {reason}")
        checks.update(broker=UNKNOWN, ingest=UNKNOWN, leader=UNKNOWN)
    if status is not None:
        checks.update(database="ok", store="ok", leader=status.leader)
        checks["broker"] = "connected" if status.broker_ok else "disconnected"
        checks["ingest"] = status.ingest_check()
    ok = status is not None and status.broker_ok and status.ingest_ok
    body = {
        "status": "ok" if ok else "failing",
        "checks": checks,
        "gateways": status.gateways_json() if status else {},
    }
    return body, (200 if ok else 503)
