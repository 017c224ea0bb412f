"""The gateway over TLS with credentials from the environment, under the production ACL."""

from pathlib import Path

import orjson
import pytest

from dockscan.events import Barcode, ParcelEvent
from dockscan.ids import utcnow, uuid7
from tests.gateway.ingest_support import Gateway, as_target, query
from tests.support.broker import wait_for
from tests.support.mqttc import TestClient
from tests.support.tls import start_secure_broker

SITE = "LGG"
BASE = f"dockscan/v1/{SITE}"


def test_gateway_over_tls_with_env_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_target: str
) -> None:
    site = {"site": {"id": SITE}, "stations": [{"id": "dockA", "dock": "01"}]}
    secure = start_secure_broker(tmp_path, site)
    tls, creds, ca = secure.tls_port, secure.creds, secure.ca
    try:
        monkeypatch.setenv("GW_USER", "gw-1")
        monkeypatch.setenv("GW_PASS", creds["gw-1"])
        config = tmp_path / "site.toml"
        config.write_text(
            f'[site]\nid = "{SITE}"\n[broker]\nurl = "mqtts://127.0.0.1:{tls}"\n'
            f'ca_file = "{ca}"\nusername_env = "GW_USER"\npassword_env = "GW_PASS"\n'
            f'[gateway]\ndatabase = "{store_target}"\n'
            '[[stations]]\nid = "dockA"\ndock = "01"\n'
        )
        gw = Gateway(config).start()  # connected and subscribed over TLS as gw-1
        station = TestClient(tls, "dockA", "dockA", creds["dockA"], ca)
        assert station.connect()
        station.subscribe(f"{BASE}/dockA/ack")
        event = ParcelEvent(
            event_id=uuid7(), seq=0, site=SITE, dock="01", station="dockA", ts=utcnow(),
            outcome="NO_WEIGHT", agent_version="t",
            barcodes=[Barcode(text="RR123456785GB", symbology="code128", source="s",
                              kind="upu_s10", check_ok=True)],
        )  # fmt: skip
        station.publish(f"{BASE}/dockA/parcel", event.to_json())
        wait_for(lambda: not station.messages.empty(), 20, 0.05, "the ack")
        acks = [orjson.loads(m.payload) for m in station.received(0.5)]
        assert [a["ids"] for a in acks] == [[event.event_id]]
        barcodes = query(as_target(store_target), "SELECT barcode FROM parcels")
        assert barcodes == [("RR123456785GB",)]
        station.close()
        assert gw.stop() == 0
        wait_for(lambda: "stopped" in gw.log.read_text(), 5)
    finally:
        secure.broker.kill()
