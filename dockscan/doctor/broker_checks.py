"""Broker checks: connect with the configured credentials, then probe the ACL on a doctor topic.

Mosquitto 2.0 grants every SUBSCRIBE in its SUBACK and filters reads when it delivers, and on
MQTT 3.1.1 it drops a refused publish silently (on MQTT 5 the PUBACK says 0x87 Not
authorized). So the probe subscribes to the client's own `doctor` topic, publishes a small
non-retained message there and waits for it to come back: that proves write and read rights
without touching a topic anyone consumes (the gateway reads only parcel, status, telemetry).
"""

import json
import os
import secrets
import socket
import ssl
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from dockscan.doctor.model import Check, Context, Result, fail, ok, warn
from dockscan.ids import iso_ms, utcnow
from dockscan.mqtt import is_v5, make_client

BAD_CREDENTIALS = {134, 135}  # Bad user name or password, Not authorized (3.1.1: 4, 5)
NOT_AUTHORIZED = 135


def probe_topic(ctx: Context) -> str:
    """Return the doctor topic of the target (granted readwrite by `dockscan broker-config`)."""
    base = f"{ctx.cfg.broker.topic_prefix}/{ctx.cfg.site.id}"
    if ctx.station is None:
        return f"{base}/gateway/{ctx.cfg.gateway.id}/doctor"
    return f"{base}/{ctx.station.id}/doctor"


class Probe:
    """One short MQTT session shared by the broker and ACL checks."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.broker = ctx.cfg.broker
        self.ident = ctx.station.id if ctx.station else ctx.cfg.gateway.id
        self.client: mqtt.Client | None = None
        self.connected = False
        self._connack = threading.Event()
        self._suback = threading.Event()
        self._puback = threading.Event()
        self._echo = threading.Event()
        self._reason: Any = None
        self._granted: list[Any] = []
        self._pub_reason: Any = None
        self._nonce = secrets.token_hex(8)

    # -- callbacks (paho's network thread) --------------------------------------------------

    def _on_connect(self, client: mqtt.Client, u: object, f: object, rc: Any, p: object) -> None:
        self._reason = rc
        self._connack.set()

    def _on_subscribe(self, client: mqtt.Client, u: object, mid: int, rcs: Any, p: object) -> None:
        self._granted = list(rcs)
        self._suback.set()

    def _on_publish(self, client: mqtt.Client, u: object, mid: int, rc: Any, p: object) -> None:
        self._pub_reason = rc
        self._puback.set()

    def _on_message(self, client: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        if self._nonce.encode() in msg.payload:
            self._echo.set()

    # -- checks ------------------------------------------------------------------------------

    def _user(self) -> str:
        """Return the username the config's environment gives, or `anonymous`."""
        creds = self.broker.credentials()
        return repr(creds[0]) if creds and creds[0] else "anonymous"

    def _credentials_fix(self) -> str:
        """Return the fix for refused credentials, naming the environment variables."""
        b = self.broker
        if not b.username_env:
            return "set broker.username_env and broker.password_env (the broker refuses anonymous)"
        state = {
            v: "set" if os.environ.get(v) else "NOT SET" for v in (b.username_env, b.password_env)
        }
        names = ", ".join(f"{k} ({v})" for k, v in state.items() if k)
        return (
            f"check username_env/password_env {names}: they must match the broker's passwd "
            f"(dockscan broker-config writes {self.ident}.env)"
        )

    def connect_check(self) -> Result:
        """Connect and wait for CONNACK; name the URL or the credential variables on failure."""
        b, t = self.broker, self.ctx.timeout_s
        url = (b.urls or [b.url])[0]  # host and port are the first node's too
        try:
            client = make_client(b, f"{self.ident}-doctor")
        except (OSError, ValueError) as exc:
            return fail(
                "broker",
                f"cannot set up TLS for {url}: {exc}",
                "check broker.ca_file, cert_file and key_file",
            )
        client.connect_timeout = t
        client.on_connect, client.on_subscribe = self._on_connect, self._on_subscribe
        client.on_publish, client.on_message = self._on_publish, self._on_message
        kwargs = {"clean_start": True} if is_v5(client) else {}
        started = time.monotonic()
        try:
            client.connect(b.host, b.port, keepalive=max(10, int(t * 2)), **kwargs)
        except ConnectionRefusedError:
            return fail("broker", f"connection refused at {url}", _reach_fix(url))
        except TimeoutError:
            return fail("broker", f"no answer from {url} within {t:g} s", _reach_fix(url))
        except socket.gaierror as exc:
            return fail(
                "broker",
                f"cannot resolve {b.host} ({url}): {exc.strerror}",
                "check broker.url and DNS",
            )
        except ssl.SSLError as exc:
            return fail(
                "broker",
                f"TLS handshake with {url} failed: {exc.reason or exc}",
                "check broker.ca_file (the site CA) and the server certificate",
            )
        except OSError as exc:
            return fail("broker", f"cannot reach {url}: {exc.strerror or exc}", _reach_fix(url))
        self.client = client
        client.loop_start()
        if not self._connack.wait(t):
            return fail(
                "broker",
                f"{url} accepted TCP but sent no CONNACK within {t:g} s",
                "check the port is an MQTT listener (TLS: mqtts://)",
            )
        rc = self._reason
        if rc is not None and rc.is_failure:
            if rc.value in BAD_CREDENTIALS:
                detail = f"{url} refused user {self._user()}: {rc}"
                return fail("broker", detail, self._credentials_fix())
            return fail("broker", f"{url} refused the connection: {rc}", "see the broker's log")
        self.connected = True
        ms = (time.monotonic() - started) * 1000
        proto = f"MQTT {b.protocol}{', TLS' if b.tls else ''}"
        return ok("broker", f"{url}: connected as {self._user()} ({proto}) in {ms:.0f} ms")

    def acl_check(self) -> Result:
        """Publish a probe on the target's doctor topic and wait for it to come back."""
        topic = probe_topic(self.ctx)
        if not self.connected or self.client is None:
            self.close()
            return warn("acl", f"not checked ({topic}): no broker connection")
        try:
            return self._acl(topic)
        finally:
            self.close()

    def _acl(self, topic: str) -> Result:
        """Subscribe, publish and wait for the echo; report what the broker refused."""
        client, t = self.client, self.ctx.timeout_s
        assert client is not None
        client.subscribe(topic, qos=1)
        if not self._suback.wait(t):
            return fail("acl", f"no SUBACK for {topic} within {t:g} s", "see the broker's log")
        if self._granted and self._granted[0].is_failure:
            return fail(
                "acl", f"broker refused to subscribe {topic}: {self._granted[0]}", self._acl_fix()
            )
        payload = json.dumps(
            {"probe": "dockscan doctor", "nonce": self._nonce, "ts": iso_ms(utcnow())}
        ).encode()
        props = None
        if is_v5(client):
            props = Properties(PacketTypes.PUBLISH)
            props.MessageExpiryInterval = 60
        started = time.monotonic()
        client.publish(topic, payload, qos=1, retain=False, properties=props)
        if not self._puback.wait(t):
            return fail(
                "acl", f"no PUBACK for the probe on {topic} within {t:g} s", "see the broker's log"
            )
        rc = self._pub_reason
        if rc is not None and getattr(rc, "is_failure", False):
            refused = "write" if rc.value == NOT_AUTHORIZED else "publish"
            return fail(
                "acl",
                f"broker refused to let user {self._user()} {refused} {topic}: {rc}",
                self._acl_fix(),
            )
        if not self._echo.wait(t):
            why = (
                "PUBACK ok but not delivered back: read refused"
                if is_v5(client)
                else "MQTT 3.1.1 drops refused publishes silently: write or read refused"
            )
            return fail(
                "acl", f"probe on {topic} did not come back within {t:g} s ({why})", self._acl_fix()
            )
        ms = (time.monotonic() - started) * 1000
        return ok(
            "acl", f"user {self._user()} may write and read {topic} (probe back in {ms:.0f} ms)"
        )

    def _acl_fix(self) -> str:
        """Return the fix for a refused probe: identity first, then the generated ACL."""
        creds = self.broker.credentials()
        user = creds[0] if creds else ""
        env = self.broker.username_env or "broker.username_env"
        if user and user != self.ident:
            return (
                f"{env} gives user {user!r}, but this is {self.ident!r}: use the "
                f"credentials of {self.ident} ({self.ident}.env from dockscan broker-config)"
            )
        return (
            f"regenerate the ACL: dockscan broker-config -c {self.ctx.config_path}, "
            "then reload mosquitto (it grants each client its doctor topic)"
        )

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        client, self.client = self.client, None
        if client is None:
            return
        try:
            if self.connected:
                client.unsubscribe(probe_topic(self.ctx))
                client.disconnect()
        finally:
            client.loop_stop()


def _reach_fix(url: str) -> str:
    """Return the fix for an unreachable broker."""
    return f"check broker.url {url}, that mosquitto runs there and the firewall lets us through"


def checks(ctx: Context) -> list[Check]:
    """Return the broker and ACL checks (they share one session)."""
    probe = Probe(ctx)
    return [Check("broker", probe.connect_check), Check("acl", probe.acl_check)]
