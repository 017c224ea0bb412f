"""Evidence uploads over a real Mosquitto: deleted on PUBACK, every loss counted."""

import time
from pathlib import Path

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from dockscan.ids import uuid7
from dockscan.topics import Topics
from edge import evidence_upload
from edge.evidence_upload import EvidenceUploads
from edge.vision.evidence import EvidenceStore, fit_jpeg
from tests.support.broker import Mosquitto
from tests.support.mqttc import TestClient

TOPICS = Topics()


def frame(seed: int, size: tuple[int, int] = (480, 640)) -> np.ndarray:
    """Return a noisy grey frame (noise makes JPEGs big, as real ones with labels are)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, size, dtype=np.uint8)


def station_client(broker: Mosquitto) -> mqtt.Client:
    """Return a connected paho client with its loop running, as the station's publisher has."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="dock01",
                         protocol=MQTTProtocolVersion.MQTTv5)  # fmt: skip
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    return client


@pytest.fixture
def folder(tmp_path: Path) -> EvidenceStore:
    """An empty evidence folder of camera cam1 (images up to 200 kB)."""
    return EvidenceStore(tmp_path / "evidence", max_mb=50, max_kb=200)


def uploads_for(
    tmp_path: Path, store: EvidenceStore, max_bytes: int = 200 * 1024
) -> EvidenceUploads:
    """Return an upload queue that finds files in the store's folder."""

    def locate(name: str) -> Path | None:
        path = store.folder / name
        return path if path.exists() else None

    return EvidenceUploads(tmp_path / "outbox.db.evidence.db", TOPICS, "LGG", "dock01", locate,
                           max_bytes)  # fmt: skip


def run_until(uploads: EvidenceUploads, client: mqtt.Client, done, timeout: float = 10) -> None:
    """Step the queue as the publisher thread does until `done()`."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"queue stuck: {uploads.stats()}"
        uploads.step(client, True)
        time.sleep(0.02)


def test_images_arrive_on_their_topics_and_leave_the_queue_on_puback(
    tmp_path: Path, mosquitto: Mosquitto, folder: EvidenceStore
) -> None:
    names = folder.save("cam1", [(0.0, frame(1)), (0.1, frame(2)), (0.2, frame(3))])
    assert len(names) == 3
    event_id = uuid7()
    listener = TestClient(mosquitto.port, "gateway-peer")
    assert listener.connect()
    listener.subscribe(TOPICS.subscription("evidence", "LGG"))
    client = station_client(mosquitto)
    uploads = uploads_for(tmp_path, folder)
    client.on_publish = lambda c, u, mid, rc, p: uploads.on_puback(mid)
    try:
        uploads.queue(event_id, names)
        assert uploads.pending == 3
        run_until(uploads, client, lambda: uploads.pending == 0)
        got = {m.topic: m.payload for m in listener.received(1.0)}
    finally:
        client.loop_stop()
        listener.close()
    expected = {TOPICS.evidence("LGG", "dock01", event_id, i): (folder.folder / n).read_bytes()
                for i, n in enumerate(names)}  # fmt: skip
    assert got == expected
    assert uploads.stats()["evidence_sent"] == 3
    assert uploads.stats()["evidence_pending"] == 0


def test_the_queue_survives_a_restart_and_nothing_is_sent_offline(
    tmp_path: Path, mosquitto: Mosquitto, folder: EvidenceStore
) -> None:
    names = folder.save("cam1", [(0.0, frame(4))])
    first = uploads_for(tmp_path, folder)
    first.queue(uuid7(), names)
    assert first.step(None, connected=False) == 0
    first.close()  # the agent stops (or dies): the row is on disk
    again = uploads_for(tmp_path, folder)
    assert again.pending == 1
    client = station_client(mosquitto)
    client.on_publish = lambda c, u, mid, rc, p: again.on_puback(mid)
    try:
        run_until(again, client, lambda: again.pending == 0)
    finally:
        client.loop_stop()
    assert again.stats()["evidence_sent"] == 1


def test_lost_oversize_and_overflowing_images_are_dropped_and_counted(
    tmp_path: Path, mosquitto: Mosquitto, folder: EvidenceStore, monkeypatch
) -> None:
    names = folder.save("cam1", [(0.0, frame(5)), (0.1, frame(6))])
    (folder.folder / names[0]).unlink()  # the folder's size limit deleted it meanwhile
    small = uploads_for(tmp_path, folder, max_bytes=1000)  # the second is over this cap
    small.queue(uuid7(), names)
    client = station_client(mosquitto)
    client.on_publish = lambda c, u, mid, rc, p: small.on_puback(mid)
    try:
        run_until(small, client, lambda: small.pending == 0)
    finally:
        client.loop_stop()
    stats = small.stats()
    assert (stats["evidence_lost"], stats["evidence_oversize"], stats.get("evidence_sent", 0)) == (
        1, 1, 0)  # fmt: skip
    monkeypatch.setattr(evidence_upload, "MAX_ROWS", 3)  # a small queue, to fill it
    for _ in range(3):
        small.queue(uuid7(), ["cam1-a.jpg", "cam1-b.jpg"])
    assert small.pending == 3
    assert small.stats()["evidence_dropped"] == 3


def test_a_frame_is_made_to_fit_its_cap_or_dropped_and_counted(tmp_path: Path) -> None:
    big = frame(7, (1080, 1920))
    jpeg = fit_jpeg(big, 150 * 1024)
    assert jpeg is not None and len(jpeg) <= 150 * 1024
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE) is not None
    assert fit_jpeg(big, 2000) is None  # noise does not shrink that far
    store = EvidenceStore(tmp_path / "ev", max_mb=10, max_kb=2)
    assert store.save("cam1", [(0.0, big)]) == []
    assert store.oversize == 1


def test_expired_rows_are_dropped(tmp_path: Path, folder: EvidenceStore) -> None:
    uploads = uploads_for(tmp_path, folder)
    uploads.max_age_s = 0.05
    uploads.queue(uuid7(), ["cam1-x.jpg"])
    time.sleep(0.1)
    uploads.step(None, connected=False)
    assert uploads.pending == 0 and uploads.stats()["evidence_expired"] == 1
