"""The gateway's MQTT session: client setup, subscriptions, and its retained status with a Will."""

import logging
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from dockscan import __version__
from dockscan.config import SiteConfig
from dockscan.errors import BrokerError
from dockscan.events import Ack, GatewayStatus
from dockscan.ids import utcnow
from dockscan.logs import RateLimitedLog
from dockscan.mqtt import is_v5, make_client, no_delay, publish_json, rotate
from dockscan.sockbuf import BufferedClient
from dockscan.topics import Topics
from gateway.reconcile.matcher import verdict_batch_json
from gateway.store import Written

logger = logging.getLogger(__name__)


def status_payload(client_id: str, state: str, session: int) -> bytes:
    """Return a gateway status payload (retained; the offline form is also the Will)."""
    status = GatewayStatus(
        gateway=client_id, state=state, session=session, ts=utcnow(), version=__version__
    )  # type: ignore[arg-type]
    return status.to_json()


def subscriptions(
    topics: Topics, site: str, group: str, owns_liveness: bool
) -> list[tuple[str, int]]:
    """Return the filters a worker subscribes to at QoS 1 (parcels shared when `group` is set).

    Hold requests are not shared: every gateway applies each one, and the second finds it in
    the history (gateway/holds.py), so a request reaches the store while any gateway is up.
    """
    parcel = topics.subscription("parcel", site)
    if group:
        parcel = f"$share/{group}/{parcel}"
    subs = [(parcel, 1)]
    if owns_liveness:
        subs += [(topics.subscription(kind, site), 1) for kind in ("status", "telemetry")]
        subs.append((topics.hub(site, "hold-request"), 1))
        subs.append((evidence_filter(topics, site, group), 1))
    return subs


def evidence_filter(topics: Topics, site: str, group: str) -> str:
    """Return the evidence images' filter (shared among the gateways when `group` is set)."""
    evidence = topics.subscription("evidence", site)
    return f"$share/{group}/{evidence}" if group else evidence


def gateway_client(cfg: SiteConfig, client_id: str) -> BufferedClient:
    """Create the paho client: manual PUBACKs, persistent session, a window of two batches.

    On MQTT 5 the Receive Maximum tells the broker how many unacknowledged messages it may
    send; on 3.1.1 the broker's own `max_inflight_messages` sets that window instead.
    """
    try:
        client = make_client(cfg.broker, client_id)
    except (OSError, ValueError) as exc:  # TLS files missing or unreadable
        raise BrokerError(f"cannot set up the MQTT client for {cfg.broker.url}: {exc}") from exc
    client.manual_ack_set(True)
    client.max_inflight_messages_set(1000)  # our own ack publishes
    props, kwargs = None, {}
    if is_v5(client):
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = cfg.broker.session_expiry_s
        props.ReceiveMaximum = min(65535, 2 * cfg.gateway.batch_size)
        kwargs["clean_start"] = False
    broker = cfg.broker
    client.connect_async(broker.host, broker.port, broker.keepalive_s, properties=props, **kwargs)
    return client


def connect(
    client: mqtt.Client,
    client_id: str,
    cfg: SiteConfig,
    status_topic: str,
    next_session: Callable[[], int | None],
    stop: threading.Event,
) -> int | None:
    """Connect with backoff until connected or stopped; return the new session number.

    `next_session` returns None while the store cannot number the session (it is down): the
    gateway then stays away from the broker, which keeps its persistent session meanwhile.
    """
    rlog = RateLimitedLog(logger)
    delay = 0.5
    while not stop.is_set():
        session = next_session()
        if session is None:
            stop.wait(delay)
            delay = min(delay * 2, 10.0)
            continue
        offline = status_payload(client_id, "offline", session)
        client.will_set(status_topic, offline, qos=1, retain=True)
        try:
            client.reconnect()
            no_delay(client)
            return session
        except OSError as exc:
            rlog.warning("connect", "broker %s:%d unreachable: %s", client.host, client.port, exc)
            rotate(client, cfg.broker)
            stop.wait(delay)
            delay = min(delay * 2, 10.0)
    return None


def say_offline(client: mqtt.Client, status_topic: str, offline: bytes) -> None:
    """Publish the retained offline status, wait up to 3 s for its PUBACK, then disconnect."""
    info = publish_json(client, status_topic, offline, qos=1, retain=True)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not info.is_published():
        client.loop(0.05)
    client.disconnect()
    client.loop_write()


def publish_acks(client: mqtt.Client, topics: Topics, gateway: str, written: Written) -> int:
    """Publish one Ack per station for a committed batch, then its verdicts; return the acks."""
    for (site, station), ids in written.ids.items():
        ack = Ack(gateway=gateway, ids=ids, ts=utcnow())  # type: ignore[arg-type]
        publish_json(client, topics.ack(site, station), ack.to_json(), qos=1)
    for (site, station), verdicts in written.verdicts.items():
        payload = verdict_batch_json(site, station, gateway, verdicts)
        publish_json(client, topics.verdict(site, station), payload, qos=1)
    return len(written.ids)
