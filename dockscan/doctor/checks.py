"""Generic host checks: who runs the doctor, and disk space for a bounded file."""

import contextlib
import grp
import os
import pwd
import tempfile
from pathlib import Path

from dockscan.doctor.model import Context, Result, fail, ok, warn

MB = 1_000_000  # as outbox_max_mb and retention_max_mb


def user_name(uid: int | None = None) -> str:
    """Return the name of a user id (the effective one by default)."""
    uid = os.geteuid() if uid is None else uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_name(gid: int) -> str:
    """Return the name of a group id."""
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def user_check(ctx: Context) -> Result:
    """Report the user the checks run as; root passes permission checks the service may fail."""
    groups = ", ".join(sorted({group_name(g) for g in os.getgroups()} | {group_name(os.getegid())}))
    if os.geteuid() == 0:
        return warn(
            "user",
            "running as root: file and device permissions cannot fail for root",
            "run the doctor as the service user: sudo -u dockscan dockscan doctor "
            f"-c {ctx.config_path} "
            + (f"--station {ctx.station.id}" if ctx.station else "--gateway"),
        )
    return ok("user", f"running as {user_name()} (groups: {groups})")


def _mb(n: float) -> str:
    """Format a byte count in MB (10^6 B)."""
    return f"{n / MB:,.1f} MB"


def _existing_bytes(path: Path) -> int:
    """Return the bytes a SQLite database already uses (file, WAL and shared memory)."""
    total = 0
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            total += os.stat(f"{path}{suffix}").st_size
    return total


def _probe_write(folder: Path) -> str:
    """Create and remove a file in `folder`; return an error reason, or "" when writable."""
    try:
        fd, name = tempfile.mkstemp(prefix=".dockscan-doctor-", dir=folder)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    os.unlink(name)
    return ""


def space_check(
    name: str, path: str, cap_mb: float, cap_key: str, estimate: tuple[float, str] = (0, "")
) -> Result:
    """Check that the folder of `path` is writable and its filesystem can hold `cap_mb` more.

    Without a cap, `estimate` (MB, why) turns too little free space into a warning.
    """
    file = Path(path).absolute()
    folder = file.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return fail(name, f"{existing} is not a directory (needed for {file})", "fix the path")
    reason = _probe_write(existing)
    if reason:
        who = user_name()
        missing = "" if existing == folder else f" to create {folder}"
        return fail(
            name,
            f"cannot write in {existing}{missing}: {reason} (user {who})",
            f"chown {who} {existing} (or choose a writable path for {file.name})",
        )
    stat = os.statvfs(existing)
    free = stat.f_bavail * stat.f_frsize
    created = "" if existing == folder else f" ({folder} will be created)"
    if not cap_mb:
        note = f"{_mb(free)} free in {existing}{created}; no size cap ({cap_key} = 0)"
        guess_mb, why = estimate
        if guess_mb and free < guess_mb * MB:
            return warn(name, f"{note}; {why}", f"set {cap_key} to what the disk can hold")
        return ok(name, note)
    used = _existing_bytes(file)
    need = max(0, int(cap_mb * MB) - used)
    have = f"{_mb(free)} free in {existing}{created}"
    if free < need:
        return fail(
            name,
            f"needs {_mb(need)} for {cap_key} = {cap_mb:g} (file now {_mb(used)}), only {have}",
            f"free space on that filesystem or lower {cap_key} below {free / MB:.0f}",
        )
    return ok(name, f"{have}; room for {cap_key} = {cap_mb:g} (file now {_mb(used)})")


def postgres_check(ctx: Context) -> Result:
    """Check that the PostgreSQL store answers with the configured credentials."""
    import psycopg

    from dockscan.errors import DockscanError

    gw, name = ctx.cfg.gateway, "store"
    where = gw.database.split("@")[-1]
    try:
        with psycopg.connect(gw.database, password=gw.database_password(), connect_timeout=3) as c:
            version = c.execute("SHOW server_version").fetchone()[0]
    except DockscanError as exc:
        return fail(name, str(exc), f"export ${gw.database_password_env} for the gateway")
    except psycopg.Error as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        fix = "start PostgreSQL, or fix gateway.database and its password variable"
        return fail(name, f"PostgreSQL at {where}: {detail}", fix)
    return ok(name, f"PostgreSQL {version} at {where} answers")


def store_disk_check(ctx: Context) -> Result:
    """Check the gateway's store: a SQLite folder with room for its cap, or PostgreSQL up."""
    gw = ctx.cfg.gateway
    if gw.postgres:
        return postgres_check(ctx)
    return space_check("store disk", gw.database, gw.retention_max_mb, "gateway.retention_max_mb")
