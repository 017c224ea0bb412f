"""A real Mosquitto process on a free loopback port that tests can stop, kill and restart."""

import os
import shutil
import signal
import subprocess
from pathlib import Path

from dockscan.localsvc.net import free_port, wait_for, wait_port  # noqa: F401 - re-exported

REPO = Path(__file__).resolve().parents[2]
TEST_CONF = REPO / "config" / "mosquitto-test.conf"
INSTALL_HINT = "mosquitto is not installed: run `apt-get install -y mosquitto mosquitto-clients`"


class Mosquitto:
    """One mosquitto process with a config built from a template plus its own port and dir."""

    def __init__(
        self, workdir: Path, conf: Path = TEST_CONF, extra: str = "", port: int | None = None
    ) -> None:
        if shutil.which("mosquitto") is None:
            raise RuntimeError(INSTALL_HINT)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.conf_path = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"
        body = conf.read_text() + f"\n{extra}\n"
        if "\nlistener " not in "\n" + body:
            body += f"listener {self.port} 127.0.0.1\n"
        if "\npersistence_location " not in "\n" + body:  # not the comment in the template
            body += f"persistence_location {self.workdir}/\n"
        if os.geteuid() == 0 and "\nuser " not in body:
            body += "user root\n"  # else mosquitto drops to `mosquitto` and cannot read tmp dirs
        body += f"log_dest file {self.log_path}\n"
        self.conf_path.write_text(body)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Return the mqtt:// URL of this broker."""
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> "Mosquitto":
        """Start the broker and wait for its port."""
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.conf_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_port(self.port)
        except TimeoutError:
            self.kill()
            log = self.log_path.read_text() if self.log_path.exists() else "(no log)"
            raise RuntimeError(f"mosquitto did not start on {self.port}:\n{log}") from None
        return self

    def stop(self) -> None:
        """Stop the broker gracefully (it saves its persistence file)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def kill(self) -> None:
        """SIGKILL the broker: no goodbye, no final save."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def restart(self) -> None:
        """Start again on the same port with the same persistence folder."""
        self.stop()
        self.start()

    def delete_persistence(self) -> None:
        """Remove the persistence database (only while stopped)."""
        for f in self.workdir.glob("mosquitto.db*"):
            f.unlink()
