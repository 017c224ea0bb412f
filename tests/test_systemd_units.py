"""The systemd units and sysusers file in config/systemd pass systemd's own checkers."""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from dockscan.brokerconf import write_broker_files
from dockscan.config import load_config

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / "config" / "systemd"
DEPLOYED_BIN = "/opt/dockscan/.venv/bin/dockscan"
LOCAL_BIN = Path(sys.executable).parent / "dockscan"
HINT = "apt-get install -y systemd (or run scripts/system-deps.sh as root)"
EXAMPLES = [ROOT / "dockscan/configs/dockscan.example.toml", ROOT / "config/dockscan.example.toml"]


def tool(name: str) -> str:
    """Return the path of a systemd tool, failing with an install hint when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: {HINT}")
    return path


def example_config() -> Path:
    """Return the shipped example site config."""
    return next(p for p in EXAMPLES if p.exists())


def directives(unit: Path) -> dict[str, list[str]]:
    """Return a unit file's directives as section.key -> values, in file order."""
    out: dict[str, list[str]] = {}
    section = ""
    for raw in unit.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault(f"{section}.{key}", []).append(value)
    return out


def local_copy(unit: Path, dest: Path, name: str | None = None) -> Path:
    """Copy a unit into dest with ExecStart pointed at this venv's dockscan (no /opt here)."""
    text = unit.read_text()
    assert text.count(DEPLOYED_BIN) == 1, f"{unit.name}: expected one ExecStart of {DEPLOYED_BIN}"
    target = dest / (name or unit.name)
    target.write_text(text.replace(DEPLOYED_BIN, str(LOCAL_BIN)))
    return target


def verify(*units: Path) -> subprocess.CompletedProcess[str]:
    """Run `systemd-analyze verify` offline (no PID 1, no generators, no man pages)."""
    argv = [tool("systemd-analyze"), "verify", "--man=no", "--generators=no", *map(str, units)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    """Fail unless verify exited 0 without a single warning (unknown keys only warn)."""
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and not output, output


@pytest.fixture
def local_units(tmp_path: Path) -> list[Path]:
    """Return the units copied for local verification, plus an instance of the edge template."""
    assert LOCAL_BIN.exists(), LOCAL_BIN
    units = [local_copy(u, tmp_path) for u in sorted(UNITS.glob("*.service"))]
    edge = UNITS / "dockscan-edge@.service"
    return [*units, local_copy(edge, tmp_path, "dockscan-edge@dock07-a.service")]


def test_units_pass_systemd_analyze_verify(local_units: list[Path]) -> None:
    """Both units (and an instance of the edge template) verify without errors or warnings."""
    assert {u.name for u in local_units} == {
        "dockscan-gateway.service",
        "dockscan-edge@.service",
        "dockscan-edge@dock07-a.service",
    }
    assert_clean(verify(*local_units))


def test_units_stay_hardened(local_units: list[Path]) -> None:
    """`systemd-analyze security` rates each unit's exposure at 2.0 or lower (0-10 scale)."""
    for unit in local_units:
        argv = [tool("systemd-analyze"), "security", "--offline=true", "--threshold=20", str(unit)]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr


def test_verify_rejects_broken_units(tmp_path: Path) -> None:
    """The checks can fail: a misspelt option warns and a missing ExecStart binary errors."""
    edge = (UNITS / "dockscan-edge@.service").read_text().replace(DEPLOYED_BIN, str(LOCAL_BIN))
    typo = tmp_path / "typo@.service"
    typo.write_text(edge.replace("PrivateTmp=yes", "PrivateTemp=yes"))
    result = verify(typo)
    assert "Unknown key 'PrivateTemp'" in result.stderr, result.stderr
    missing = local_copy(UNITS / "dockscan-gateway.service", tmp_path)
    missing.write_text(missing.read_text().replace(str(LOCAL_BIN), "/nonexistent/dockscan"))
    result = verify(missing)
    assert result.returncode != 0 and "/nonexistent/dockscan" in result.stderr, result.stderr


def test_units_run_the_documented_commands() -> None:
    """ExecStart, restart, user, groups and hardening are what the operator docs promise."""
    gateway = directives(UNITS / "dockscan-gateway.service")
    edge = directives(UNITS / "dockscan-edge@.service")
    assert gateway["Service.ExecStart"] == [
        f"{DEPLOYED_BIN} gateway run -c /etc/dockscan/site.toml --ui"
    ]
    assert edge["Service.ExecStart"] == [
        f"{DEPLOYED_BIN} edge run -c /etc/dockscan/site.toml --station %i"
    ]
    for unit in (gateway, edge):
        for key, value in {
            "Service.Restart": "always",
            "Service.User": "dockscan",
            "Service.Group": "dockscan",
            "Service.KillSignal": "SIGTERM",
            "Service.ProtectSystem": "strict",
            "Service.ProtectHome": "yes",
            "Service.PrivateTmp": "yes",
            "Service.NoNewPrivileges": "yes",
            "Service.StateDirectory": "dockscan",
            "Service.ReadWritePaths": "/var/lib/dockscan",
            "Unit.After": "network-online.target",
            "Unit.Wants": "network-online.target",
        }.items():
            assert unit[key] == [value], key
    assert edge["Service.SupplementaryGroups"] == ["dialout video"]
    assert edge["Service.PrivateDevices"] == ["no"]  # serial ports and cameras stay reachable
    assert {"char-ttyUSB rw", "char-ttyACM rw", "char-video4linux rw"} <= set(
        edge["Service.DeviceAllow"]
    )


def test_state_paths_of_the_example_config_are_writable() -> None:
    """Every file the example config writes lies under the units' one writable directory."""
    cfg = tomllib.loads(example_config().read_text())
    paths = [cfg["gateway"]["database"]]
    for station in cfg["stations"]:
        paths.append(station["outbox"])
        paths += [d["evidence_dir"] for d in station["devices"] if "evidence_dir" in d]
    assert len(paths) >= 3
    for path in paths:
        assert Path(path).is_relative_to("/var/lib/dockscan"), path


def test_env_files_match_broker_config(tmp_path: Path) -> None:
    """broker-config writes the <station>.env the edge unit reads, with the config's names."""
    cfg = load_config(str(example_config()))
    write_broker_files(cfg, tmp_path)
    edge = directives(UNITS / "dockscan-edge@.service")
    assert edge["Service.EnvironmentFile"] == ["-/etc/dockscan/%i.env"]
    for station in cfg.stations:
        env = (tmp_path / f"{station.id}.env").read_text()
        names = [line.partition("=")[0] for line in env.splitlines()]
        assert names == [cfg.broker.username_env, cfg.broker.password_env]
    gateway = directives(UNITS / "dockscan-gateway.service")
    assert gateway["Service.EnvironmentFile"] == ["-/etc/dockscan/gateway.env"]
    assert (tmp_path / f"{cfg.gateway.id}.env").exists()  # copied to gateway.env by the operator


def test_sysusers_creates_the_service_user(tmp_path: Path) -> None:
    """systemd-sysusers creates the dockscan user with the state directory as home."""
    conf = tmp_path / "etc" / "sysusers.d"
    conf.mkdir(parents=True)
    shutil.copy(UNITS / "dockscan.sysusers", conf / "dockscan.conf")
    argv = [tool("systemd-sysusers"), f"--root={tmp_path}"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "Failed" not in result.stderr, result.stderr
    passwd = (tmp_path / "etc/passwd").read_text().splitlines()
    users = {line.split(":")[0]: line.split(":") for line in passwd}
    assert users["dockscan"][5:] == ["/var/lib/dockscan", "/usr/sbin/nologin"]
    (conf / "bad.conf").write_text("u dock scan bogus\n")
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert "Failed to parse" in result.stderr, result.stderr
