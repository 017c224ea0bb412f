"""The 3-node NATS cluster for tests (it lives in dockscan.localsvc, which the demo uses too)."""

from dockscan.localsvc.nats import (  # noqa: F401 - re-exported
    INSTALL_HINT,
    MQTT_OPTIONS,
    NatsCluster,
    NatsNode,
    nats_binary,
)
