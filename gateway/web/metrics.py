"""Prometheus metrics (text format 0.0.4, written by hand) and the /healthz probe."""

from collections.abc import Iterable
from typing import Any

from flask import Blueprint, Response, current_app

from gateway.web import queries, web
from gateway.web.formatting import now_ms

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
)
STATES = ("online", "offline", "stale", "unknown")
TABLE_COUNT_TTL_MS = 10_000


def _label(value: str) -> str:
    """Escape a label value for the Prometheus text format."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(name: str, kind: str, help_text: str, samples: Iterable[tuple[str, float]]) -> str:
    """Render one metric family: HELP, TYPE and its samples (suffix+labels, value)."""
    lines = [f"# HELP dockscan_{name} {help_text}", f"# TYPE dockscan_{name} {kind}"]
    lines += [f"dockscan_{name}{labels} {value:g}" for labels, value in samples]
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
    parts.append(_family("ingest_latency_seconds", "histogram", "Edge capture to commit.", buckets))
    parts.append(
        _family("broker_connected", "gauge", "1 while the ingest is connected to the broker.",
                [("", counters.get("broker_connected", 0.0))])
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
        _family("database_size_bytes", "gauge", "Store file plus WAL on disk.",
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
    return "\n".join(parts) + "\n"


@bp.route("/metrics")
def metrics() -> Response:
    """Serve the metrics in the Prometheus text exposition format."""
    return Response(render_metrics(), mimetype="text/plain; version=0.0.4; charset=utf-8")


@bp.route("/healthz")
def healthz() -> Any:
    """Answer 200 when the store is readable, the ingest is connected and its heartbeat fresh."""
    checks: dict[str, Any] = {}
    try:
        counters = queries.counters(web().db.conn())
        checks["database"] = "ok"
    except Exception as exc:  # any failure to read is a failed check
        counters = {}
        checks["database"] = f"unreadable: {exc}"
    checks["broker"] = "connected" if counters.get("broker_connected") == 1 else "disconnected"
    heartbeat = counters.get("heartbeat_ms")
    limit = current_app.config["HEALTH_MAX_HEARTBEAT_S"]
    if heartbeat is None:
        checks["ingest"] = "no heartbeat yet"
    else:
        age = (now_ms() - heartbeat) / 1000
        fresh = -limit <= age <= limit  # far in the future is as wrong as too old
        checks["ingest"] = "ok" if fresh else f"heartbeat {age:.0f} s old (limit {limit} s)"
    ok = checks["database"] == "ok" and checks["broker"] == "connected" and checks["ingest"] == "ok"
    return {"status": "ok" if ok else "failing", "checks": checks}, (200 if ok else 503)
