"""MQTT client factory: paho 2.x clients for MQTT 5 or 3.1.1, with TLS, credentials and a Will."""

import logging
import socket
import ssl
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from dockscan.config import BrokerConfig
from dockscan.sockbuf import BufferedClient
from dockscan.topics import Topics

logger = logging.getLogger(__name__)
CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class Will:
    """A last-will message registered at CONNECT."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


def is_v5(client: mqtt.Client) -> bool:
    """Return whether this client speaks MQTT 5."""
    return client.protocol == MQTTProtocolVersion.MQTTv5


def topics_for(broker: BrokerConfig) -> Topics:
    """Return the topic builder for this broker's configured prefix."""
    return Topics(broker.topic_prefix)


def make_client(broker: BrokerConfig, client_id: str, will: Will | None = None) -> BufferedClient:
    """Create (not connect) a paho client (read-buffered) for this broker config."""
    proto = MQTTProtocolVersion.MQTTv5 if broker.protocol == "5" else MQTTProtocolVersion.MQTTv311
    kwargs: dict = {"client_id": client_id, "protocol": proto}
    if proto == MQTTProtocolVersion.MQTTv311:
        kwargs["clean_session"] = False
    client = BufferedClient(CallbackAPIVersion.VERSION2, **kwargs)
    client.enable_logger(logging.getLogger(f"paho.{client_id}"))
    creds = broker.credentials()
    if creds:
        client.username_pw_set(*creds)
    if broker.tls:
        client.tls_set(
            ca_certs=broker.ca_file or None,
            certfile=broker.cert_file or None,
            keyfile=broker.key_file or None,
            cert_reqs=ssl.CERT_REQUIRED,
        )
    if will:
        props = None
        if proto == MQTTProtocolVersion.MQTTv5:
            props = Properties(PacketTypes.WILLMESSAGE)
            props.ContentType = CONTENT_TYPE
        client.will_set(
            will.topic, will.payload, qos=will.qos, retain=will.retain, properties=props
        )
    client.reconnect_delay_set(1, 10)
    return client


def connect(client: mqtt.Client, broker: BrokerConfig, *, blocking: bool = False) -> None:
    """Connect with a persistent session (explicit session expiry on MQTT 5)."""
    props = None
    kwargs: dict = {}
    if is_v5(client):
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = broker.session_expiry_s
        kwargs["clean_start"] = False
    if blocking:
        client.connect(broker.host, broker.port, broker.keepalive_s, properties=props, **kwargs)
    else:
        client.connect_async(
            broker.host, broker.port, broker.keepalive_s, properties=props, **kwargs
        )


def rotate(client: mqtt.Client, broker: BrokerConfig) -> None:
    """Point a disconnected client at the next node of `broker.urls` (paho knows one host)."""
    endpoints = broker.endpoints
    if len(endpoints) < 2:
        return
    index = (getattr(client, "dockscan_endpoint", 0) + 1) % len(endpoints)
    # paho's host/port setters refuse while the state still says connected, which it does in
    # on_disconnect; the socket is closed by then, and the next reconnect() reads these two.
    client._host, client._port = endpoints[index]
    client.dockscan_endpoint = index  # type: ignore[attr-defined]
    logger.info("next connection attempt goes to %s:%d", *endpoints[index])


def publish_json(
    client: mqtt.Client, topic: str, payload: bytes, qos: int = 1, retain: bool = False
) -> mqtt.MQTTMessageInfo:
    """Publish a JSON payload, tagging its content type on MQTT 5."""
    props = None
    if is_v5(client):
        props = Properties(PacketTypes.PUBLISH)
        props.ContentType = CONTENT_TYPE
    return client.publish(topic, payload, qos=qos, retain=retain, properties=props)


def no_delay(client: mqtt.Client) -> None:
    """Turn off Nagle on the client's socket: small QoS 1 packets otherwise wait ~40 ms."""
    sock = client.socket()
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            logger.debug("TCP_NODELAY not set: %s", exc)


def broker_answers(broker: BrokerConfig, timeout: float = 1.0) -> bool:
    """Return whether something accepts TCP connections at the broker's address."""
    try:
        with socket.create_connection((broker.host, broker.port), timeout=timeout):
            return True
    except OSError:
        return False
