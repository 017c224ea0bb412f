"""Helpers for the doctor tests: a world-readable work folder, site configs, and running the
real `dockscan doctor` command (as an unprivileged user when the tests run as root)."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__test__ = False  # helpers only
REPO = Path(__file__).resolve().parents[1]
UNPRIVILEGED = ("nobody", "nogroup")
SETPRIV_HINT = "setpriv not found: apt-get install -y util-linux"


@dataclass
class Row:
    """One parsed table row."""

    status: str
    name: str
    detail: str
    fix: str = ""


@dataclass
class Outcome:
    """What one doctor run printed and returned."""

    rc: int
    out: str
    err: str
    rows: dict[str, Row]


def parse(out: str) -> dict[str, Row]:
    """Parse the doctor's table into rows by check name (fix lines attach to the row above)."""
    rows: dict[str, Row] = {}
    last: Row | None = None
    for line in out.splitlines()[1:-1]:
        if line.lstrip().startswith("fix: ") and last is not None:
            last.fix = line.strip().removeprefix("fix: ")
            continue
        parts = re.split(r"\s{2,}", line, maxsplit=2)
        assert len(parts) == 3, f"not a table row: {line!r} in\n{out}"
        last = rows[parts[1]] = Row(*parts)
    return rows


def run_doctor(
    *args: str, env: dict[str, str] | None = None, unprivileged: bool = False, timeout: float = 60
) -> Outcome:
    """Run `python -m dockscan doctor ARGS` (as nobody when asked and we are root)."""
    cmd = [sys.executable, "-m", "dockscan", "doctor", *args]
    if unprivileged and os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            raise RuntimeError(SETPRIV_HINT)
        user, group = UNPRIVILEGED
        cmd = ["setpriv", f"--reuid={user}", f"--regid={group}", "--clear-groups", *cmd]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )  # fmt: skip
    if unprivileged and "No module named dockscan" in proc.stderr:
        raise RuntimeError(
            f"the user {UNPRIVILEGED[0]} cannot read the checkout at {REPO}: "
            "make its parent folders world-traversable (chmod o+x)"
        )
    rows = parse(proc.stdout) if "--json" not in args and proc.stdout else {}
    return Outcome(proc.returncode, proc.stdout, proc.stderr, rows)


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder under /tmp that an unprivileged user may enter and read (tmp_path may not)."""
    path = Path(tempfile.mkdtemp(prefix="doctor-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def give_to_nobody(path: Path) -> Path:
    """Make a folder (created if needed) belong to the unprivileged user; return it."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(path, *UNPRIVILEGED)
    return path


def site_toml(
    work: Path,
    broker_url: str = "mqtt://127.0.0.1:1",
    http_port: int = 1,
    protocol: str = "5",
    devices: str = "",
    station: str = "dockA",
    outbox: Path | None = None,
    outbox_max_mb: float = 1,
    extra_gateway: str = "",
) -> Path:
    """Write a site config with two stations (dockA, dockB) and return its path."""
    outbox = outbox or give_to_nobody(work / "outbox") / "outbox.db"
    text = (
        f'[site]\nid = "LGG"\n'
        f'[broker]\nurl = "{broker_url}"\nprotocol = "{protocol}"\n'
        'username_env = "DOCTOR_TEST_USER"\npassword_env = "DOCTOR_TEST_PASSWORD"\n'
        f'[gateway]\nid = "gw-1"\nhttp_bind = "127.0.0.1:{http_port}"\n'
        f'database = "{work / "gw" / "gateway.db"}"\n{extra_gateway}'
    )
    for sid in ("dockA", "dockB"):
        text += (
            f'[[stations]]\nid = "{sid}"\ndock = "01"\noutbox = "{outbox}"\n'
            f"outbox_max_mb = {outbox_max_mb}\n"
        )
        if sid == station:
            text += devices
    path = work / "site.toml"
    path.write_text(text)
    path.chmod(0o644)
    return path


def scale_toml(port: str, dev_id: str = "scale1") -> str:
    """Return a scale device section."""
    return (
        f'[[stations.devices]]\nkind = "scale"\nid = "{dev_id}"\nprotocol = "mt-sics"\n'
        f'port = "{port}"\n'
    )


def camera_toml(source: str, dev_id: str = "cam1") -> str:
    """Return a camera device section."""
    return f'[[stations.devices]]\nkind = "camera"\nid = "{dev_id}"\nsource = "{source}"\n'
