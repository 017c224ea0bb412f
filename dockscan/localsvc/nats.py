"""A 3-node NATS cluster (JetStream + MQTT listeners) on free loopback ports (tests, demo)."""

import json
import os
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from dockscan.localsvc.net import free_port, wait_for, wait_port

# The MQTT streams ($MQTT_sess, _msgs, _rmsgs) are R2 by default in a 3-node cluster here: one
# dead peer then leaves them without quorum. R3 survives one node (docs/scale-out.md).
MQTT_OPTIONS = "stream_replicas: 3"
INSTALL_HINT = "nats-server is not installed: run `apt-get install -y nats-server`"


def nats_binary() -> str:
    """Return the nats-server executable, or raise with the install hint."""
    path = shutil.which("nats-server") or (
        "/usr/sbin/nats-server" if os.access("/usr/sbin/nats-server", os.X_OK) else None
    )
    if path is None:
        raise RuntimeError(INSTALL_HINT)
    return path


class NatsNode:
    """One nats-server process of the cluster: client, cluster, MQTT and monitoring ports."""

    def __init__(self, workdir: Path, name: str, cluster_name: str) -> None:
        self.workdir, self.name, self.cluster_name = Path(workdir), name, cluster_name
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port, self.cluster_port = free_port(), free_port()
        self.mqtt_port, self.http_port = free_port(), free_port()
        self.conf_path = self.workdir / f"{name}.conf"
        self.log_path = self.workdir / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def write_conf(self, routes: list[int], mqtt_options: str = "", extra: str = "") -> None:
        """Write this node's config with routes to the other nodes' cluster ports."""
        route_list = ", ".join(f"nats-route://127.0.0.1:{p}" for p in routes)
        self.conf_path.write_text(
            f"server_name: {self.name}\nlisten: 127.0.0.1:{self.port}\n"
            f"http: 127.0.0.1:{self.http_port}\n"
            f'jetstream {{ store_dir: "{self.workdir / self.name}" }}\n'
            f"cluster {{ name: {self.cluster_name}, listen: 127.0.0.1:{self.cluster_port}, "
            f"routes: [{route_list}] }}\n"
            f"mqtt {{ listen: 127.0.0.1:{self.mqtt_port}, {mqtt_options} }}\n{extra}\n"
        )

    @property
    def url(self) -> str:
        """Return the NATS client URL of this node."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def mqtt_url(self) -> str:
        """Return the mqtt:// URL of this node's MQTT listener."""
        return f"mqtt://127.0.0.1:{self.mqtt_port}"

    def start(self) -> None:
        """Start the process (without waiting for the cluster)."""
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed right after Popen
        self.proc = subprocess.Popen(
            [nats_binary(), "-c", str(self.conf_path)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

    def alive(self) -> bool:
        """Return whether the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the node: no goodbye, no flush."""
        if self.alive():
            assert self.proc
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """Stop the node gracefully."""
        if self.alive():
            assert self.proc
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def monitor(self, path: str) -> dict:
        """GET a monitoring endpoint (e.g. `jsz?streams=1`) and parse its JSON."""
        url = f"http://127.0.0.1:{self.http_port}/{path}"
        with urllib.request.urlopen(url, timeout=2) as resp:
            return json.loads(resp.read())

    def health(self) -> str:
        """Return the node's `healthz` answer as text (the reason, when it is not healthy)."""
        url = f"http://127.0.0.1:{self.http_port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}: {exc.read().decode(errors='replace')}"
        except OSError as exc:
            return f"no answer: {exc}"

    def healthy(self, server_only: bool = False) -> bool:
        """Return whether the node reports itself healthy (with `server_only`: back in the
        JetStream meta group, not yet every stream and consumer replica caught up)."""
        try:
            query = "healthz?js-server-only=true" if server_only else "healthz"
            return self.monitor(query).get("status") == "ok"
        except OSError:
            return False


class NatsCluster:
    """A 3-node NATS cluster with JetStream and MQTT; any node can be SIGKILLed and restarted."""

    def __init__(
        self, workdir: Path, size: int = 3, mqtt_options: str = MQTT_OPTIONS, extra: str = ""
    ) -> None:
        nats_binary()
        self.workdir = Path(workdir)
        self.nodes = [NatsNode(self.workdir, f"n{i}", "dockscan") for i in range(1, size + 1)]
        for node in self.nodes:
            routes = [n.cluster_port for n in self.nodes if n is not node]
            node.write_conf(routes, mqtt_options, extra)

    @property
    def urls(self) -> list[str]:
        """Return every node's NATS URL."""
        return [n.url for n in self.nodes]

    @property
    def mqtt_urls(self) -> list[str]:
        """Return every node's MQTT URL."""
        return [n.mqtt_url for n in self.nodes]

    def start(self, timeout: float = 30.0) -> "NatsCluster":
        """Start every node and wait until all are healthy."""
        for node in self.nodes:
            node.start()
        try:
            for node in self.nodes:
                wait_port(node.mqtt_port, timeout)
            wait_for(lambda: all(n.healthy() for n in self.nodes), timeout, 0.2, "cluster healthy")
        except TimeoutError:
            logs = "\n".join(n.log_path.read_text()[-2000:] for n in self.nodes)
            self.stop()
            raise RuntimeError(f"the NATS cluster did not come up:\n{logs}") from None
        return self

    def restart(self, index: int, timeout: float = 30.0, healthy: bool = True) -> None:
        """Start node `index` again (same ports and store); wait for its ports (and health)."""
        node = self.nodes[index]
        node.kill()
        node.start()
        wait_port(node.mqtt_port, timeout)
        if healthy:
            wait_for(node.healthy, timeout, 0.2, f"{node.name} healthy")

    def wait_healthy(self, timeout: float = 30.0, server_only: bool = False) -> None:
        """Wait until every running node reports healthy (see NatsNode.healthy)."""
        alive = [n for n in self.nodes if n.alive()]
        wait_for(lambda: all(n.healthy(server_only) for n in alive), timeout, 0.2,
                 "cluster healthy")  # fmt: skip

    def delivered_to(self, client_name: str) -> int:
        """Return how many messages the live nodes sent to NATS clients named `client_name`."""
        total = 0
        for node in self.nodes:
            if node.alive():
                try:
                    conns = node.monitor("connz?limit=1000").get("connections") or []
                except OSError:
                    continue
                total += sum(c.get("out_msgs", 0) for c in conns if c.get("name") == client_name)
        return total

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.stop()
