"""Evidence images at the gateway over a real Mosquitto, on both stores: kept, bounded, counted."""

from pathlib import Path

import cv2
import numpy as np

from dockscan.config import ClearingConfig
from dockscan.events import Outcome
from dockscan.ids import uuid7
from dockscan.topics import Topics
from gateway import evidence
from gateway.db import open_store
from gateway.store import transaction
from tests.gateway.ingest_support import (
    SITE,
    StartGateway,
    Station,
    as_target,
    counter,
    gateways_fixture,  # noqa: F401 (the `gateways` fixture)
    parcel,
    query,
    topic,
    write_config,
)
from tests.support.broker import Mosquitto, wait_for

TOPICS = Topics()


def jpeg(seed: int, side: int = 64) -> bytes:
    """Return a JPEG of random grey noise (bigger sides give bigger files)."""
    pixels = np.random.default_rng(seed).integers(0, 255, (side, side), dtype=np.uint8)
    return cv2.imencode(".jpg", pixels)[1].tobytes()


def test_images_are_stored_once_and_bad_ones_dropped_and_counted(
    mosquitto: Mosquitto, tmp_path: Path, gateways: StartGateway, store_target: str
) -> None:
    cfg = write_config(tmp_path, mosquitto.url, database=store_target)
    cfg.write_text(cfg.read_text() + "[clearing]\nevidence_max_kb = 20\n")
    db = as_target(store_target)
    gateways(cfg)
    event = parcel("st1", 1).model_copy(update={"outcome": Outcome.NO_READ, "barcodes": []})
    good, big = jpeg(1), jpeg(2, 400)
    assert len(good) < 20 * 1024 < len(big)
    station = Station(mosquitto.port)
    try:
        station.publish(TOPICS.evidence(SITE, "st1", event.event_id, 0), good)  # before its event
        station.publish(topic("st1", "parcel"), event.to_json())
        station.publish(TOPICS.evidence(SITE, "st1", event.event_id, 0), good)  # sent again
        station.publish(TOPICS.evidence(SITE, "st1", event.event_id, 1), big)
        station.publish(TOPICS.evidence(SITE, "st1", event.event_id, 2), b"<html>not a jpeg")
        station.publish(f"dockscan/v1/{SITE}/st1/evidence/{event.event_id}/99", good)
        station.publish(f"dockscan/v1/{SITE}/st1/evidence/not-an-id/0", good)
        wait_for(lambda: counter(db, "evidence_dropped_bad_topic_total") == 2, 20,
                 what="every image counted")  # fmt: skip
        wait_for(lambda: event.event_id in station.acked, 10, what="the parcel stored")
        later = parcel("st1", 2)  # the ingest goes on
        station.publish(topic("st1", "parcel"), later.to_json())
        wait_for(lambda: later.event_id in station.acked, 10, what="a later parcel")
    finally:
        station.close()
    assert counter(db, "evidence_received_total") == 2
    assert counter(db, "evidence_dropped_oversize_total") == 1
    assert counter(db, "evidence_dropped_not_jpeg_total") == 1
    rows = query(db, "SELECT event_id, idx, station, bytes, jpeg FROM evidence")
    assert [(r[0], r[1], r[2], r[3], bytes(r[4])) for r in rows] == [
        (event.event_id, 0, "st1", len(good), good)
    ]


def test_purge_keeps_the_store_within_age_and_size(store_target: str) -> None:
    conn = open_store(store_target)
    now = 10 * evidence.DAY_MS
    image = jpeg(3, 100)
    rows = [(uuid7(), 0, "st1", now - age, len(image), image)
            for age in (20 * evidence.DAY_MS, 3000, 2000, 1000, 0)]  # fmt: skip
    with transaction(conn):
        conn.executemany(evidence.INSERT_SQL, rows)
    total = len(image) * 4  # one is older than evidence_days; three of the four others fit
    cfg = ClearingConfig(evidence_days=14, evidence_max_mb=(total - len(image) // 2) / 1e6)
    assert evidence.purge(conn, cfg, now) == 2
    kept = [r[0] for r in conn.execute("SELECT event_id FROM evidence ORDER BY received_ms")]
    assert kept == [r[0] for r in rows[2:]]
    assert evidence.purge(conn, cfg, now) == 0
    conn.close()
