"""The wheel works alone: built, installed in a fresh venv, run from an empty directory."""

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import urllib.request
import zipfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

from dockscan.schema import render_all
from tests.support.broker import free_port, wait_for
from tests.support.procs import get_json

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("dockscan", "edge", "gateway", "firmware_sim")
SETUPTOOLS_HINT = "run `.venv/bin/pip install -e '.[test]'` (the test extra has setuptools>=70.1)"


@dataclass(frozen=True)
class Installed:
    """A wheel installed alone in a fresh venv, and an empty directory to run it from."""

    wheel: Path
    venv: Path
    python: Path
    dockscan: Path
    cwd: Path
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run a program of the fresh venv (`dockscan ...` or `python ...`) in the empty cwd."""
        exe = self.python if args[0] == "python" else self.dockscan
        return subprocess.run(
            [str(exe), *args[1:]] if args[0] == "python" else [str(exe), *args],
            cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip


def _check(proc: subprocess.CompletedProcess) -> str:
    """Return stdout of a finished process, failing the test with its output if it failed."""
    assert proc.returncode == 0, f"{proc.args} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def build_wheel(tmp: Path) -> Path:
    """Build the wheel from a copy of the sources the build reads; return its path."""
    have = version("setuptools")
    if tuple(int(part) for part in have.split(".")[:2]) < (70, 1):
        pytest.fail(f"setuptools {have} cannot build a wheel without `wheel`: {SETUPTOOLS_HINT}")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for pkg in PACKAGES:
        shutil.copytree(REPO / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp / "dist"
    _check(subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(out), "-q", "--disable-pip-version-check"],
        capture_output=True, text=True, timeout=300,
    ))  # fmt: skip
    wheels = list(out.glob("dockscan-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def install_alone(wheel: Path, tmp: Path) -> Installed:
    """Install the wheel without its dependencies in a fresh venv that sees ours by a .pth."""
    venv = tmp / "venv"
    _check(subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)],
                          capture_output=True, text=True, timeout=120))  # fmt: skip
    python = venv / "bin" / "python"
    # Before the .pth exists the fresh venv sees nothing, so pip cannot touch our editable install.
    _check(subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "-q", "--disable-pip-version-check", str(wheel)],
        capture_output=True, text=True, timeout=300,
    ))  # fmt: skip
    site = _check(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, timeout=60,
    )).strip()  # fmt: skip
    # A plain path line: its directory joins sys.path, but its own .pth files (our editable
    # finder among them) are not processed, so `dockscan` resolves to the installed wheel.
    (Path(site) / "dockscan_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    cwd = tmp / "empty"
    cwd.mkdir()
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "DOCKSCAN_CONFIG"}
    env = {k: v for k, v in os.environ.items() if k not in drop} | {"PYTHONNOUSERSITE": "1"}
    return Installed(wheel, venv, python, venv / "bin" / "dockscan", cwd, env)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel, built once for this module and installed alone."""
    tmp = tmp_path_factory.mktemp("wheel")
    return install_alone(build_wheel(tmp), tmp)


def test_wheel_holds_every_file_of_the_source_packages(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    sources = {
        path.relative_to(REPO).as_posix()
        for pkg in PACKAGES
        for path in (REPO / pkg).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert sources - names == set(), "files missing from the wheel (package-data?)"
    for pattern in ("gateway/web/templates/*.html", "gateway/web/static/*.css",
                    "gateway/web/static/*.js", "edge/screen/*.html", "edge/screen/static/*",
                    "dockscan/configs/*.toml", "dockscan/py.typed"):  # fmt: skip
        assert any(Path(n).match(pattern) for n in names), pattern
    assert not any(n.startswith(("tests/", "bench/", "docs/")) for n in names)


def test_installed_wheel_is_what_gets_imported(installed: Installed) -> None:
    code = (
        "import sys, dockscan, edge, gateway, firmware_sim\n"
        "from dockscan.cli import DEFAULT_CONFIG\n"
        "print(dockscan.__file__, edge.__file__, gateway.__file__, firmware_sim.__file__)\n"
        "print(DEFAULT_CONFIG)\n"
        "print(any('editable' in type(f).__module__ for f in sys.meta_path))\n"
    )
    files, default, editable = _check(installed.run("python", "-c", code)).splitlines()
    venv = str(installed.venv.resolve())
    for path in [*files.split(), default]:
        assert Path(path).resolve().is_relative_to(venv), path
    assert editable == "False"
    assert Path(default).name == "demo.toml"
    assert "ok (site LGG" in _check(installed.run("check-config", default))


def test_installed_cli_init_check_config_and_schema(installed: Installed) -> None:
    helptext = _check(installed.run("--help"))
    for cmd in ("init", "demo", "check-config", "schema", "edge", "gateway", "sim"):
        assert f"  {cmd} " in helptext, cmd
    site = installed.cwd / "site.toml"
    site.unlink(missing_ok=True)
    _check(installed.run("init", "-o", "site.toml"))
    assert site.read_text().startswith("# dockscan site configuration for site LGG")
    out = _check(installed.run("check-config", "site.toml"))
    assert "site.toml: ok (site LGG, 1 stations, 3 devices)" in out
    again = installed.run("init", "-o", "site.toml")
    assert again.returncode == 1 and "--force" in again.stderr
    _check(installed.run("schema", "-o", "out/schema"))
    written = {p.name for p in (installed.cwd / "out" / "schema").iterdir()}
    expected = render_all()
    assert written == {n for n in expected if n.endswith(".json")}
    assert (installed.cwd / "out" / "asyncapi.yaml").read_text() == expected["asyncapi.yaml"]


def cmdlines() -> list[list[str]]:
    """Return the argv of every process we can read."""
    out = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            raw = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if raw:
            out.append(raw.rstrip(b"\0").decode(errors="replace").split("\0"))
    return out


def http_get(url: str) -> tuple[int, str, bytes]:
    """GET a URL; return status, content type and body."""
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), resp.read()


def test_installed_demo_serves_board_station_page_and_static_files(
    installed: Installed, tmp_path: Path
) -> None:
    broker_port, http = free_port(), free_port()
    cfg = tmp_path / "demo.toml"
    cfg.write_text(f'[site]\nid = "LGG"\n[broker]\nurl = "mqtt://127.0.0.1:{broker_port}"\n')
    log_path = tmp_path / "demo.log"
    with open(log_path, "wb") as log:
        demo = subprocess.Popen(
            [str(installed.dockscan), "demo", "-c", str(cfg), "--stations", "1",
             "--http", f"127.0.0.1:{http}", "--workdir", str(tmp_path / "work")],
            cwd=installed.cwd, env=installed.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{http}"
    try:

        def online() -> bool:
            try:
                stations = get_json(f"{base}/api/stations")
            except OSError:
                return False
            return [(s["id"], s["state"]) for s in stations] == [("dock01", "online")]

        try:
            wait_for(online, 60, 0.5, "dock01 online on the status board")
        except TimeoutError:
            pytest.fail(log_path.read_text())
        status, _, board = http_get(f"{base}/")
        assert status == 200 and b"dock01" in board
        status, _, page = http_get(f"{base}/stations/dock01")
        assert status == 200 and b"dock01" in page
        screen = f"http://127.0.0.1:{http + 1}"
        static = [
            (f"{base}/static/app.css", "text/css"),
            (f"{base}/static/board.js", "javascript"),
            (f"{screen}/", "text/html"),
            (f"{screen}/static/screen.css", "text/css"),
        ]
        for url, kind in static:
            status, ctype, body = http_get(url)
            assert (status, kind in ctype, len(body) > 0) == (200, True, True), (url, ctype)
        site_file = str(tmp_path / "work" / "site.toml")
        children = [argv for argv in cmdlines() if site_file in argv]
        assert {"gateway", "edge"} <= {argv[3] for argv in children}, children
        assert {argv[0] for argv in children} == {str(installed.python)}, children
    finally:
        demo.send_signal(signal.SIGTERM)
        rc = demo.wait(60)
    out = log_path.read_text()
    assert rc == 0, out
    assert "Stopped." in out
    assert "exited with" not in out, out
