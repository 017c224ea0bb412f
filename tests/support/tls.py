"""The production broker config under test: a throwaway CA (openssl), credentials, TLS."""

import subprocess
from dataclasses import dataclass
from pathlib import Path

from dockscan.brokerconf import write_broker_files
from dockscan.config import parse_config
from tests.support.broker import REPO, Mosquitto, free_port, wait_port
from tests.support.mqttc import TestClient


def make_ca(out: Path) -> None:
    """Create a test CA and a server certificate for 127.0.0.1 with openssl."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=out, check=True, capture_output=True)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=dockscan test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    )
    (out / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.crt")  # fmt: skip


@dataclass
class SecureBroker:
    """A broker started from config/mosquitto.conf with generated credentials."""

    broker: Mosquitto
    plain_port: int
    tls_port: int
    creds: dict[str, str]
    ca: str

    def client(self, user: str | None, tls: bool = False, cid: str | None = None) -> TestClient:
        """Return an unconnected client for a user (None = anonymous)."""
        port = self.tls_port if tls else self.plain_port
        return TestClient(port, cid or f"t-{user}-{tls}", user, self.creds.get(user or ""),
                          self.ca if tls else None)  # fmt: skip


def start_secure_broker(work: Path, site: dict) -> SecureBroker:
    """Start config/mosquitto.conf (paths and ports rewritten) with this site's passwd and ACL."""
    etc = work / "etc"
    etc.mkdir()
    make_ca(etc)
    creds = write_broker_files(parse_config(site), etc)
    plain, tls = free_port(), free_port()
    conf = (REPO / "config" / "mosquitto.conf").read_text()
    conf = conf.replace("/etc/mosquitto/dockscan/", f"{etc}/")
    conf = conf.replace("/var/lib/mosquitto/", f"{work}/")
    conf = conf.replace("listener 1883 127.0.0.1", f"listener {plain} 127.0.0.1")
    conf = conf.replace("listener 8883", f"listener {tls} 127.0.0.1")
    (work / "mosquitto.conf").write_text(conf)
    broker = Mosquitto(work / "run", conf=work / "mosquitto.conf", port=plain).start()
    wait_port(tls)
    return SecureBroker(broker, plain, tls, creds, str(etc / "ca.crt"))
