"""The PostgreSQL store: write paths, two gateways, and failover, each against a baseline.

Three parts, each measured against a baseline from the same run (`--parts` picks them):

- `writes`: `gateway.store.Store.write` of parcel batches (tests/gateway/ingest_support.parcel
  events, 4 stations) at 50 and 500 events per batch, the parcel insert done four ways: the
  store's `INSERT ... SELECT FROM unnest(arrays)` with binary arrays (the baseline), the same
  statement with the arrays as text, psycopg's pipelined `executemany` of a one-row INSERT,
  and COPY into a temporary staging table then `INSERT ... SELECT ... ON CONFLICT DO NOTHING
  RETURNING`. The rest of the transaction (stations, counters, the fsynced commit) is the
  store's own. SQLite's Store.write of the same batches is a reference row.
- `ingest`: one `dockscan gateway run` on SQLite, then on PostgreSQL with each of those write
  paths (bench/gateway_variant.py swaps the store's insert), events blasted by mosquitto_pub.
- `scale`: one against two `dockscan gateway run` processes (gw-1, gw-2 --no-liveness) on one
  PostgreSQL database, through Mosquitto `$share` (MQTT 5) and through a 3-node NATS cluster
  (the gateways share one durable JetStream consumer); events blasted by mosquitto_pub.
- `failover` (`--failover-cases`): two gateways under a paced load on Mosquitto `$share` (with
  the default 7-day gateway sessions, and with `broker.session_expiry_s = 0`) and on NATS.
  `--kills` times a gateway is SIGKILLed (the site-duty lease holder when the store has a
  `leases` row, else each in turn) and restarted after `--down-s`. Per kill: kill → the
  survivor's next commit, kill → the first event published after the kill committed, how many
  events waited for the restart (or NATS redelivery), and, with the lease, kill → another
  gateway holds the site duties (`SELECT holder, since_ms FROM leases`).

PostgreSQL is a private server started by the bench with fsync, synchronous_commit and full-page
writes on (the SQLite store commits with synchronous=FULL). Example:

    .venv/bin/python bench/pg_bench.py --events 60000 --runs 3 --kills 10
"""

import argparse
import contextlib
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

import loadgen  # noqa: E402
from ingest_bench import (  # noqa: E402
    SITE,
    GatewayRun,
    median_of,
    pct,
    postgres_facts,
    start_postgres,
)
from pg_writes import PATHS, writes_part  # noqa: E402

from tests.support.postgres import Postgres  # noqa: E402

NOTES = "\n## Notes"  # hand-written text after this heading survives a rerun
# -- the real gateway with each write path ----------------------------------------------------

INGEST = ("sqlite", "unnest", "unnest-text", "executemany", "copy")


def ingest_part(args: argparse.Namespace, pg: Postgres, tmp: Path) -> dict:
    """One `dockscan gateway run` on SQLite, then on PostgreSQL with each write path."""
    out: dict[str, list[dict]] = {path: [] for path in INGEST}
    variant = [sys.executable, str(REPO / "bench" / "gateway_variant.py")]
    for r in range(args.runs):
        for path in INGEST:
            work = tmp / f"ingest-{path}-{r}"
            extra = {"pg": pg, "launcher": [*variant, path]} if path != "sqlite" else {}
            try:
                res = blast_run(work, args, **extra)
            except (TimeoutError, RuntimeError, OSError) as exc:  # say so, go on with the rest
                print("ingest", path, r, "FAILED:", exc, flush=True)
                continue
            out[path].append(res)
            print("ingest", path, r, {k: round(v, 1) for k, v in res.items() if k != "log_errors"},
                  res["log_errors"] or "", flush=True)  # fmt: skip
    return out


# -- two gateways -----------------------------------------------------------------------------

# name: (label, gateways, transport nats?, store on PostgreSQL?, the case it is compared to)
SCALE = {
    "mqtt-1": ("Mosquitto $share, 1 gateway", 1, False, True, "mqtt-1"),
    "mqtt-2": ("Mosquitto $share, 2 gateways (gw-1, gw-2)", 2, False, True, "mqtt-1"),
    "nats-1": ("NATS 3 nodes, 1 gateway", 1, True, True, "nats-1"),
    "nats-2": ("NATS 3 nodes, 2 gateways (gw-1, gw-2)", 2, True, True, "nats-1"),
    "mqtt-2-sqlite": ("Mosquitto $share, 2 gateways on one SQLite file", 2, False, False, "mqtt-1"),
    "nats-2-sqlite": ("NATS 3 nodes, 2 gateways on one SQLite file", 2, True, False, "nats-1"),
}


def scale_case(work: Path, name: str, args: argparse.Namespace, pg: Postgres) -> dict:
    """Blast events at one or two gateways and measure what they commit."""
    _, gateways, nats, on_pg, _ = SCALE[name]
    group = {} if nats else {"shared_group": "dockscan-gw"}
    return blast_run(work, args, pg=pg if on_pg else None, gateways=gateways, nats=nats, **group)


def blast_run(work: Path, args: argparse.Namespace, **kwargs: object) -> dict:
    """Start a GatewayRun, blast `--events` at it, and return its figures and log errors."""
    run = GatewayRun(work, **kwargs)  # type: ignore[arg-type]
    try:
        loadgen.blast(run.port, SITE, args.stations, args.events)
        run.wait_committed(args.events, 300)
    except BaseException:
        run.stop()
        raise
    res = run.finish()
    res["log_errors"] = log_errors(run.logs)
    return res


def scale_part(args: argparse.Namespace, pg: Postgres, tmp: Path) -> dict:
    """Run the scale cases interleaved, `--runs` times."""
    out: dict[str, list[dict]] = {name: [] for name in args.scale_cases.split(",")}
    for r in range(args.runs):
        for name in out:
            try:
                res = scale_case(tmp / f"scale-{name}-{r}", name, args, pg)
            except (TimeoutError, RuntimeError, OSError) as exc:  # say so, go on with the rest
                print("scale", name, r, "FAILED:", exc, flush=True)
                out[name].append({"failed": str(exc).splitlines()[0]})
                continue
            out[name].append(res)
            print("scale", name, r, {k: round(v, 1) for k, v in res.items() if k != "log_errors"},
                  res["log_errors"] or "", flush=True)  # fmt: skip
    return out


# -- failover ---------------------------------------------------------------------------------

LEASE_SQL = "SELECT holder, since_ms, expires_ms FROM leases WHERE name = 'site-duties'"


def lease_holder(run: GatewayRun) -> tuple[str, int] | None:
    """Return (holder, since_ms) of the site-duty lease, None without one (or no table)."""
    with contextlib.suppress(Exception):
        rows = run.store.rows(LEASE_SQL)
        if rows:
            return rows[0][0], int(rows[0][1])
    return None


def now_ms() -> int:
    """Wall-clock ms (the store's columns use the same clock on this host)."""
    return int(time.time() * 1000)


# name: (label, NATS?, [broker] settings of the gateways besides the bench's, what is killed)
FAILOVER = {
    "mqtt": (
        "Mosquitto `$share`, gateway sessions kept 7 days (the default)", False, {}, "gateway"
    ),
    "mqtt-expiry0": (
        "Mosquitto `$share`, gateways with `broker.session_expiry_s = 0`", False,
        {"session_expiry_s": 0}, "gateway",
    ),
    "nats": ("a 3-node NATS cluster", True, {}, "gateway"),
    "pg-kill": ("Mosquitto `$share`; PostgreSQL SIGKILLed", False, {}, "postgres"),
}  # fmt: skip


def failover_part(args: argparse.Namespace, pg: Postgres, tmp: Path, name: str) -> dict:
    """Kill a gateway `--kills` times under a paced load; return the timeline and the rows."""
    _, nats, broker, target = FAILOVER[name]
    settings = {} if nats else {"shared_group": "dockscan-gw"}
    broker = {**broker, "nats_ack_wait_s": args.nats_ack_wait} if nats else broker
    run = GatewayRun(
        tmp / f"failover-{name}", pg=pg, gateways=2, nats=nats, liveness="all",
        broker_settings=broker, **settings,
    )  # fmt: skip
    stop = threading.Event()
    sent: list[int] = []
    pub = threading.Thread(
        target=lambda: sent.append(
            loadgen.paced(run.port, SITE, args.stations, args.rate, 24 * 3600, stop)
        ),
        daemon=True,
    )
    kills: list[dict] = []
    try:
        pub.start()
        time.sleep(args.settle_s)
        lease = wait_lease(run, 8.0)
        for k in range(args.pg_kills if target == "postgres" else args.kills):
            if target == "postgres":
                kills.append(kill_postgres(pg, args.down_s))
                print("failover", name, k, kills[-1], flush=True)
                time.sleep(args.settle_s)
                continue
            holder = lease_holder(run)
            victim = run.ids.index(holder[0]) if holder else k % 2
            at = now_ms()
            run.kill(victim)
            kill = {"victim": run.ids[victim], "kill_ms": at, "was_holder": bool(holder)}
            if holder:
                kill["takeover_ms"] = wait_takeover(run, run.ids[victim], at, args.down_s)
            time.sleep(max(0.0, at / 1000 + args.down_s - time.time()))
            kill["restart_ms"] = now_ms()
            run.restart(victim)
            kill["online_ms"] = now_ms()
            kills.append(kill)
            print("failover", name, k, kill, flush=True)
            time.sleep(args.settle_s)
        stop.set()
        pub.join(60)
        total = sent[0] if sent else 0
        with contextlib.suppress(TimeoutError):  # what the broker dropped never arrives
            run.wait_committed(total, args.nats_ack_wait + 30 if nats else 30)
        rows = run.store.rows("SELECT ts_ms, received_ms, committed_ms FROM parcels")
        dups = run.store.counter("events_duplicate_total")
    except BaseException:
        stop.set()
        run.stop()
        raise
    run.finish()
    return {
        "kills": kills, "rows": rows, "sent": total, "duplicates": dups, "lease": lease,
        "log_errors": log_errors(run.logs),
    }  # fmt: skip


def kill_postgres(pg: Postgres, down_s: float) -> dict:
    """SIGKILL the postmaster and its backends, start it again after `down_s`."""
    at = now_ms()
    pg.kill()
    time.sleep(max(0.0, at / 1000 + down_s - time.time()))
    restart = now_ms()
    pg.restart()  # crash recovery, then accepting connections
    return {"victim": "postgres", "kill_ms": at, "restart_ms": restart, "back_ms": now_ms()}


def wait_lease(run: GatewayRun, timeout: float) -> bool:
    """Return whether the store has a site-duty lease row within `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lease_holder(run):
            return True
        time.sleep(0.2)
    return False


def wait_takeover(run: GatewayRun, victim: str, kill_ms: int, limit_s: float) -> float | None:
    """Return ms from the kill until another gateway holds the lease (None if not in time)."""
    deadline = time.monotonic() + max(limit_s, 15.0)
    while time.monotonic() < deadline:
        holder = lease_holder(run)
        if holder and holder[0] != victim:
            return float(holder[1] - kill_ms)
        time.sleep(0.05)
    return None


def kill_figures(res: dict, down_s: float) -> list[dict]:
    """Per kill, from the store's columns: the survivor's next commit, waits, stranded events."""
    rows = res["rows"]
    out = []
    for kill in res["kills"]:
        at, back = kill["kill_ms"], kill["restart_ms"]
        after = [c for _, _, c in rows if c > at]
        if "back_ms" in kill:  # PostgreSQL: down until the first commit after it accepts again
            back = min((c for c in after if c >= kill["back_ms"]), default=kill["back_ms"])
        new = [c for ts, _, c in rows if ts >= at]
        outage = [(ts, c) for ts, _, c in rows if at <= ts < back]
        around = [(ts, c) for ts, _, c in rows if at - 2000 <= ts < back]
        waited = [c - ts for ts, c in around if c - ts > 1000]
        out.append({
            "victim": kill["victim"],
            "next_commit_ms": min(after) - at if after else float("nan"),
            "first_new_ms": min(new) - at if new else float("nan"),
            "outage_events": len(outage),
            "waited": len(waited),
            "waited_max_ms": max(waited) if waited else 0,
            "takeover_ms": kill.get("takeover_ms"),
            "recovered_ms": back - kill["back_ms"] if "back_ms" in kill else None,
            "back_ms": kill.get("back_ms", 0) - kill["restart_ms"],
        })  # fmt: skip
    return out


# -- shared -----------------------------------------------------------------------------------

ERROR_LINE = re.compile(r"ERROR|CRITICAL|Traceback|exception", re.IGNORECASE)


def log_errors(logs: list[Path]) -> dict[str, int]:
    """Count error lines in the gateways' logs, by their text with numbers masked."""
    found: dict[str, int] = {}
    for log in logs:
        with contextlib.suppress(OSError):
            for line in log.read_text(errors="replace").splitlines():
                if ERROR_LINE.search(line):
                    key = re.sub(r"\d+", "N", line.strip())[:160]
                    found[key] = found.get(key, 0) + 1
    return found


def machine() -> str:
    """Return the CPU facts from nproc and /proc/cpuinfo."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs ({model}), Python {sys.version.split()[0]}"


def main() -> None:
    """Run the parts and write bench/results/postgres.md."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--parts", default="writes,ingest,scale,failover")
    ap.add_argument("--runs", type=int, default=3, help="interleaved runs of writes and scale")
    ap.add_argument("--write-events", type=int, default=20_000, help="events per write case")
    ap.add_argument("--sizes", default="50,500", help="batch sizes of the write cases")
    ap.add_argument("--events", type=int, default=60_000, help="events per scale case")
    ap.add_argument("--stations", type=int, default=4)
    ap.add_argument("--scale-cases", default="mqtt-1,mqtt-2,nats-1,nats-2")
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--rate", type=float, default=500, help="events/s during the failover runs")
    ap.add_argument("--down-s", type=float, default=8.0, help="a killed gateway stays down")
    ap.add_argument("--settle-s", type=float, default=3.0, help="steady load between kills")
    ap.add_argument("--failover-cases", default=",".join(FAILOVER), help=", ".join(FAILOVER))
    ap.add_argument("--pg-kills", type=int, default=3, help="PostgreSQL kills in pg-kill")
    ap.add_argument("--nats-ack-wait", type=float, default=30.0, help="broker.nats_ack_wait_s")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "postgres.md"))
    args = ap.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    parts = args.parts.split(",")
    found: dict[str, object] = {}
    load_before = os.getloadavg()
    pg = start_postgres()
    try:
        facts = postgres_facts(pg)
        with tempfile.TemporaryDirectory(prefix="pg-bench-") as tmp:
            if "writes" in parts:
                found["writes"] = writes_part(args, pg, Path(tmp))
            if "ingest" in parts:
                found["ingest"] = ingest_part(args, pg, Path(tmp))
            if "scale" in parts:
                found["scale"] = scale_part(args, pg, Path(tmp))
            if "failover" in parts:
                for name in args.failover_cases.split(","):
                    found[f"failover:{name}"] = failover_part(args, pg, Path(tmp), name)
    finally:
        pg.destroy()
    load = (load_before, os.getloadavg())
    out = Path(args.out)
    notes = out.read_text().partition(NOTES)[2] if out.exists() else ""
    text = report(args, found, facts, load)
    out.write_text(text + (NOTES + notes if notes else ""))
    print(text)
    print(f"wrote {args.out}")


def command(args: argparse.Namespace) -> str:
    """Return the command line that reproduces this report."""
    return (
        f"`.venv/bin/python bench/pg_bench.py --parts {args.parts} --runs {args.runs}"
        f" --write-events {args.write_events} --sizes {','.join(map(str, args.sizes))}"
        f" --events {args.events} --stations {args.stations} --scale-cases {args.scale_cases}"
        f" --kills {args.kills} --rate {args.rate:g} --down-s {args.down_s:g}"
        f" --settle-s {args.settle_s:g} --failover-cases {args.failover_cases}"
        f" --pg-kills {args.pg_kills}"
        f" --nats-ack-wait {args.nats_ack_wait:g}`"
    )


def report(args: argparse.Namespace, found: dict, facts: str, load: tuple) -> str:
    """Render the results as Markdown."""
    lines = [
        "# PostgreSQL store benchmark",
        "",
        f"Command: {command(args)}",
        "",
        f"Machine: {machine()}. {facts}: a private server started by the bench, data on the same "
        "disk as the SQLite files. Everything (brokers, generators, gateways, PostgreSQL) shares "
        f"the box. Load average before/after: {load[0][0]:.1f} / {load[1][0]:.1f}.",
    ]
    if "writes" in found:
        lines += writes_report(args, found["writes"])
    if "ingest" in found:
        lines += ingest_report(args, found["ingest"])
    if "scale" in found:
        lines += scale_report(args, found["scale"])
    for key, res in found.items():
        if key.startswith("failover:"):
            lines += failover_report(args, res, key.partition(":")[2])
    return "\n".join(lines) + "\n"


def writes_report(args: argparse.Namespace, res: dict) -> list[str]:
    """The write-path table."""
    lines = [
        "",
        f"## Store write paths (Store.write, {args.write_events:,} events per case, 4 stations)",
        "",
        "One transaction per batch: stations locked and updated, parcels and their codes "
        "inserted, counters, fsynced commit. *insert µs/event* is the parcel insert alone "
        "(parcels and codes), *CPU* the client process's. Medians of "
        f"{args.runs} interleaved runs, a fresh database each.",
        "",
        "| batch | parcel insert | events/s | ratio to unnest | insert µs/event | "
        "client CPU µs/event | ms per batch |",
        "|---|---|---|---|---|---|---|",
    ]
    for size in args.sizes:
        base = median_of(res[size, "unnest"], "per_s")[0]
        for path, (label, _) in PATHS.items():
            runs = res[size, path]
            med, lo, hi = median_of(runs, "per_s")
            lines.append(
                f"| {size} | {label} | {med:,.0f} ({lo:,.0f}-{hi:,.0f}) | {med / base:.2f} | "
                f"{median_of(runs, 'insert_us')[0]:.1f} | {median_of(runs, 'cpu_us')[0]:.0f} | "
                f"{median_of(runs, 'batch_ms')[0]:.1f} |"
            )
    return lines


def ingest_report(args: argparse.Namespace, res: dict) -> list[str]:
    """The one-gateway table: SQLite against PostgreSQL with each write path."""
    lines = [
        "",
        f"## One gateway, SQLite against PostgreSQL with each write path ({args.events:,} events"
        f" blasted by {args.stations} x mosquitto_pub, Mosquitto, MQTT 5)",
        "",
        "`dockscan gateway run` as built (`unnest`), and through `bench/gateway_variant.py`, "
        "which swaps only the store's PostgreSQL parcel insert. Medians of "
        f"{args.runs} interleaved runs (min-max).",
        "",
        "| store and parcel insert | events/s | ratio to the SQLite gateway | arrival→commit p50 /"
        " p99 ms | gateway CPU µs/event | PostgreSQL CPU µs/event |",
        "|---|---|---|---|---|---|",
    ]
    base = median_of(res["sqlite"], "per_s")[0] if res["sqlite"] else float("nan")
    for path, runs in res.items():
        label = "SQLite (synchronous=FULL)" if path == "sqlite" else f"PostgreSQL, {PATHS[path][0]}"
        if not runs:
            lines.append(f"| {label} | every run failed (see the output) | - | - | - | - |")
            continue
        med, lo, hi = median_of(runs, "per_s")
        lines.append(
            f"| {label} | {med:,.0f} ({lo:,.0f}-{hi:,.0f}) | {med / base:.2f} | "
            f"{median_of(runs, 'wait_p50')[0]:.0f} / {median_of(runs, 'wait_p99')[0]:.0f} | "
            f"{median_of(runs, 'cpu_us')[0]:.0f} | {median_of(runs, 'db_cpu_us')[0]:.0f} |"
        )
    return lines


def scale_report(args: argparse.Namespace, res: dict) -> list[str]:
    """The one-against-two-gateways table."""
    lines = [
        "",
        f"## Two gateways on one PostgreSQL ({args.events:,} events blasted by {args.stations} x "
        "mosquitto_pub)",
        "",
        "Separate `dockscan gateway run` processes with their own `gateway.id` (gw-2 "
        "`--no-liveness`), one database. Mosquitto: MQTT 5, `gateway.shared_group` set in both "
        "cases; NATS: 3 nodes, MQTT 3.1.1 from the generator to node 1, the gateways pull from "
        f"the durable consumer. Medians of {args.runs} interleaved runs (min-max).",
        "",
        "| case | events/s | ratio to 1 gateway (same broker) | arrival→commit p50 / p99 ms |"
        " gateway CPU µs/event | PostgreSQL CPU µs/event | errors in gateway logs |",
        "|---|---|---|---|---|---|---|",
    ]
    failures = {name: [r["failed"] for r in runs if "failed" in r] for name, runs in res.items()}
    res = {name: [r for r in runs if "failed" not in r] for name, runs in res.items()}
    for name, runs in res.items():
        label, _, _, _, baseline = SCALE[name]
        if not runs:
            lines.append(f"| {label} | failed: {failures[name][0]} | - | - | - | - | - |")
            continue
        med, lo, hi = median_of(runs, "per_s")
        base = res.get(baseline)
        ratio = f"{med / median_of(base, 'per_s')[0]:.2f}" if base else "-"
        errors = sum(sum(r["log_errors"].values()) for r in runs)
        if failures[name]:
            label += f" ({len(failures[name])} run(s) failed: {failures[name][0]})"
        lines.append(
            f"| {label} | {med:,.0f} ({lo:,.0f}-{hi:,.0f}) | {ratio} | "
            f"{median_of(runs, 'wait_p50')[0]:.0f} / {median_of(runs, 'wait_p99')[0]:.0f} | "
            f"{median_of(runs, 'cpu_us')[0]:.0f} | {median_of(runs, 'db_cpu_us')[0]:.0f} | "
            f"{errors} |"
        )
    errors: dict[str, int] = {}
    for runs in res.values():
        for r in runs:
            for k, v in r["log_errors"].items():
                errors[k] = errors.get(k, 0) + v
    lines += [f"- log: `{k}` x{v}" for k, v in sorted(errors.items(), key=lambda kv: -kv[1])[:8]]
    return lines


def p50_p99(values: list[float]) -> str:
    """Format p50 / p99 (and the max) of a list of ms figures."""
    values = [v for v in values if v is not None and v == v]
    if not values:
        return "-"
    return f"{pct(values, 50):,.0f} / {pct(values, 99):,.0f} (max {max(values):,.0f})"


def failover_report(args: argparse.Namespace, res: dict, name: str) -> list[str]:
    """The failover table and the lease figures."""
    kills = kill_figures(res, args.down_s)
    broker, nats, _, target = FAILOVER[name]
    stored = len(res["rows"])
    what = "PostgreSQL is" if target == "postgres" else "a killed gateway is"
    title = (
        f"## PostgreSQL SIGKILLed {len(kills)} times under two gateways on Mosquitto `$share`"
        if target == "postgres"
        else f"## Failover: {len(kills)} SIGKILLs, two gateways on {broker} and PostgreSQL"
    )
    lines = [
        "",
        title,
        "",
        f"Paced {args.rate:g} events/s from one paho publisher over {args.stations} stations; "
        f"{what} restarted {args.down_s:g} s after its kill, then {args.settle_s:g} s "
        f"of steady load before the next kill. {res['sent']:,} events published, {stored:,} "
        f"stored ({res['sent'] - stored:,} dropped by the broker: the paced publisher does not "
        f"re-send, an edge would after `ack_timeout_s`), {res['duplicates']:.0f} duplicate "
        "arrivals ignored"
        + (f"; `broker.nats_ack_wait_s` = {args.nats_ack_wait:g}" if nats else "")
        + ". Times from the store's columns (commit start) against the bench's clock at the kill.",
        "",
        "| figure (over the kills) | p50 / p99 ms |",
        "|---|---|",
    ]
    if target == "postgres":
        lines += [
            f"| restart → PostgreSQL accepts connections again (crash recovery) | "
            f"{p50_p99([k['back_ms'] for k in kills])} |",
            f"| PostgreSQL accepting → the gateways' first commit | "
            f"{p50_p99([k['recovered_ms'] for k in kills])} |",
        ]
    else:
        lines += [
            f"| kill → the surviving gateway's next commit | "
            f"{p50_p99([k['next_commit_ms'] for k in kills])} |",
            f"| kill → the first event published after the kill is committed | "
            f"{p50_p99([k['first_new_ms'] for k in kills])} |",
        ]
    held = sum(k["waited"] for k in kills)
    outage = sum(k["outage_events"] for k in kills)
    until = "the first commit after the restart" if target == "postgres" else "its restart"
    lines += [
        f"| wait of events held for the restart or redelivery (publish → commit, > 1 s) | "
        f"{p50_p99([k['waited_max_ms'] for k in kills])} (per kill, the longest) |",
        f"| events held (published from 2 s before a kill until {until}, committed > 1 s after "
        f"publish) | {held:,}; {outage:,} were published while it was down |",
    ]
    if target == "postgres":
        pass
    elif res["lease"]:
        takeovers = [k["takeover_ms"] for k in kills]
        lines.append(
            f"| leader death → another gateway holds the site duties (`leases.since_ms`) | "
            f"{p50_p99(takeovers)}; {sum(t is None for t in takeovers)} not taken over in time |"
        )
    else:
        lines += [
            "",
            "No `leases` row appeared: this gateway build has no site-duty lease yet, so leader "
            "death → liveness was not measured (both gateways ran their liveness duties). The "
            "bench measures it as soon as the gateways hold the lease.",
        ]
    errors = res["log_errors"]
    lines += [f"- log: `{k}` x{v}" for k, v in sorted(errors.items(), key=lambda kv: -kv[1])[:8]]
    return lines


if __name__ == "__main__":
    main()
