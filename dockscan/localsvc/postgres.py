"""A private PostgreSQL (Debian's initdb and pg_ctl) on a free loopback port (tests, demo)."""

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

from dockscan.localsvc.net import free_port

INSTALL_HINT = "PostgreSQL is not installed: run `apt-get install -y postgresql`"
USER = "dockscan"
PASSWORD = "test-only-" + uuid.uuid4().hex[:12]
PASSWORD_ENV = "DOCKSCAN_TEST_PG_PASSWORD"


def bindir() -> Path:
    """Return the directory holding initdb and pg_ctl, or raise with the install hint."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if not found and shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidate = Path(out.stdout.strip()) / "initdb"
        found = [str(candidate)] if candidate.exists() else []
    if not found:
        raise RuntimeError(INSTALL_HINT)
    return Path(found[0]).parent


def _os_user() -> str | None:
    """Return the unprivileged account to run the server as when we are root (else None)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
    return "postgres"


def _children(pid: int) -> list[int]:
    """Return the pids whose parent is `pid` (from /proc)."""
    out = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(Path(stat).parent.name))
    return out


class Postgres:
    """One postmaster with its own data dir, socket dir and port; stoppable, killable."""

    def __init__(self, fsync: bool = False, root: Path | None = None) -> None:
        self.bin = bindir()
        self.os_user = _os_user()
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="dockscan-pg-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.data, self.sock = self.root / "data", self.root / "sock"
        self.sock.mkdir()
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.fsync = fsync
        if self.os_user:
            shutil.chown(self.root, self.os_user)
            shutil.chown(self.sock, self.os_user)
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.os_user:
            shutil.chown(pwfile, self.os_user)
        self._run(
            "initdb", "-D", str(self.data), "-U", USER, f"--pwfile={pwfile}",
            "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        pwfile.unlink()

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess:
        """Run one PostgreSQL tool as the server's OS user; raise with its output on failure."""
        cmd = [str(self.bin / tool), *args]
        if self.os_user:
            cmd = ["runuser", "-u", self.os_user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed: {done.stdout}{done.stderr}{log[-3000:]}")
        return done

    def start(self) -> "Postgres":
        """Start the postmaster and wait until it accepts connections."""
        opts = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port}"
            f" -c unix_socket_directories={self.sock}"
            f" -c fsync={'on' if self.fsync else 'off'} -c max_connections=200"
            " -c synchronous_commit=on -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (mode fast, or immediate: no checkpoint, like a crash)."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def postmaster_pid(self) -> int | None:
        """Return the postmaster's pid from postmaster.pid, or None when it is not running."""
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None

    def kill(self) -> None:
        """SIGKILL the postmaster, then wait until it and every backend it forked are gone."""
        pid = self.postmaster_pid()
        if pid is None:
            return
        family = [pid, *_children(pid)]
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:  # a stale pid file: the server is gone already
            return
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in family):
            time.sleep(0.05)

    def restart(self) -> None:
        """Start again on the same port and data dir (after stop or kill)."""
        pidfile = self.data / "postmaster.pid"
        if self.postmaster_pid() is not None:
            try:
                os.kill(self.postmaster_pid() or 0, 0)
            except ProcessLookupError:
                pidfile.unlink(missing_ok=True)
        self.start()

    def url(self, dbname: str = "postgres", password: bool = False) -> str:
        """Return a postgresql:// URL for a database (the password only when asked)."""
        secret = f":{PASSWORD}" if password else ""
        return f"postgresql://{USER}{secret}@127.0.0.1:{self.port}/{dbname}"

    def admin(self, sql: str) -> None:
        """Run one statement on the maintenance database (autocommit)."""
        with psycopg.connect(self.url(password=True), autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self) -> str:
        """Create an empty database and return its name."""
        name = "t_" + uuid.uuid4().hex[:16]
        self.admin(f'CREATE DATABASE "{name}" TEMPLATE template0 STRATEGY FILE_COPY')
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever still uses it."""
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def destroy(self) -> None:
        """Stop the server (immediately) and delete its directory."""
        try:
            self.stop("immediate")
        except RuntimeError:
            self.kill()
        shutil.rmtree(self.root, ignore_errors=True)
