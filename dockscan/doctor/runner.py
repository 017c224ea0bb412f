"""Run the doctor: the config check first, then the plugged-in device checks, then the core's."""

import logging
from importlib.metadata import entry_points

from dockscan.config import SiteConfig, load_config
from dockscan.doctor import broker_checks, checks, clock
from dockscan.doctor.model import Check, Context, Provider, Result, Status, fail, ok
from dockscan.errors import ConfigError

logger = logging.getLogger(__name__)
GROUP = "dockscan.doctor"


def providers() -> list[tuple[str, Provider]]:
    """Return the check providers registered under the `dockscan.doctor` entry points."""
    found = []
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        try:
            found.append((ep.name, ep.load()))
        except Exception as exc:  # a broken plugin is a finding, not a crash
            found.append((ep.name, _broken(ep.name, exc)))
    return found


def _broken(name: str, exc: Exception) -> Provider:
    """Return a provider whose one check reports that the plugin failed to load."""
    detail = f"cannot load doctor plugin {name!r}: {type(exc).__name__}: {exc}"
    return lambda ctx: [Check(f"plugin {name}", lambda: fail(f"plugin {name}", detail))]


def config_check(path: str, station_id: str | None) -> tuple[Result, SiteConfig | None]:
    """Load and validate the config (and find the station); return the row and the config."""
    try:
        cfg = load_config(path)
        station = cfg.station(station_id) if station_id else None
    except ConfigError as exc:
        where = f"{exc.path or path}: {exc.key}" if exc.key else exc.path or path
        fix = f"fix {exc.key or 'the file'} in {exc.path or path} (dockscan check-config {path})"
        return fail("config", f"{where}: {exc.reason}", fix), None
    if station is None:
        detail = f"{path}: site {cfg.site.id}, gateway {cfg.gateway.id}"
    else:
        kinds = [d.kind for d in station.devices]
        counts = ", ".join(f"{k} {kinds.count(k)}" for k in sorted(set(kinds))) or "no devices"
        detail = f"{path}: site {cfg.site.id}, station {station.id} ({counts})"
    return ok("config", detail), cfg


def planned(ctx: Context) -> list[Check]:
    """Return every check for the target, in table order: host, devices, network."""
    plan = [Check("user", lambda: checks.user_check(ctx))]
    for name, provider in providers():
        try:
            plan += provider(ctx)
        except Exception as exc:  # a broken provider is a row
            detail = f"doctor plugin {name!r} failed: {type(exc).__name__}: {exc}"
            plan.append(Check(f"plugin {name}", lambda d=detail, n=name: fail(f"plugin {n}", d)))
    if ctx.station is None:
        plan.append(Check("store disk", lambda: checks.store_disk_check(ctx)))
    plan += broker_checks.checks(ctx)
    if ctx.station is not None:
        plan.append(Check("clock", lambda: clock.clock_check(ctx)))
    return plan


def run_check(check: Check) -> Result:
    """Run one check; an unexpected exception becomes a FAIL row naming it."""
    try:
        return check.run()
    except Exception as exc:  # a check never ends the run
        logger.debug("check %s raised", check.name, exc_info=True)
        return fail(check.name, f"check crashed: {type(exc).__name__}: {exc}")


def run_doctor(
    config_path: str, station_id: str | None, timeout_s: float = 5.0
) -> tuple[str, list[Result]]:
    """Run every check for a station (or the gateway when `station_id` is None)."""
    row, cfg = config_check(config_path, station_id)
    target = f"station {station_id}" if station_id else "gateway"
    if cfg is None:
        return target, [row]
    station = cfg.station(station_id) if station_id else None
    ctx = Context(cfg, config_path, station, timeout_s)
    results = [row]
    for check in planned(ctx):
        results.append(run_check(check))
        logger.debug("%s: %s", check.name, results[-1].status.value)
    return ctx.target, results


def exit_code(results: list[Result]) -> int:
    """Return 1 when any check failed, else 0 (warnings alone pass)."""
    return 1 if any(r.status is Status.FAIL for r in results) else 0
