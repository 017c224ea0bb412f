"""A store for the clearing desk tests: a manifest, read and unread parcels, evidence images."""

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np

from dockscan.codes import s10_with_check
from dockscan.config import SiteConfig, parse_config
from dockscan.events import Barcode, ParcelEvent, Weight
from dockscan.ids import utcnow, uuid7
from gateway import evidence
from gateway.clock import epoch_ms, now_ms
from gateway.manifests.importer import classifier_for, import_manifest
from gateway.manifests.model import make_header
from gateway.reconcile.matcher import Reconciler, rejudger
from gateway.store import Batch, Store, transaction

OPERATOR = "clear-op-token-0123456789"
VIEWER = "clear-view-token-0123456789"
MANIFEST = "mawb:176-12345675"
SCRIPT = "<script>alert(1)</script>"


def s10(i: int) -> str:
    """Return the i-th valid S10 id."""
    return s10_with_check("RR", 40_000_000 + i, "CN")


@dataclass
class ClearingSite:
    """The seeded store: its config, the event ids by role, and the stored JPEG."""

    cfg: SiteConfig
    ids: dict[str, str]
    jpeg: bytes


def config(db: str, **gateway: object) -> SiteConfig:
    """Return a site (Europe/Berlin) with stations st1 at dock d1 and st2 at dock d2."""
    return parse_config({
        "site": {"id": "hub", "timezone": "Europe/Berlin"},
        "broker": {"url": "mqtt://127.0.0.1:1"},
        "gateway": {"database": db, **gateway},
        "clearing": {"missing_after_s": 60},
        "stations": [{"id": "st1", "dock": "d1"}, {"id": "st2", "dock": "d2"}],
    })  # fmt: skip


def event(
    station: str, ago_s: float, outcome: str, codes: tuple[str, ...] = (), images: int = 0
) -> ParcelEvent:
    """Return a parcel event of 2.05 kg captured `ago_s` seconds ago."""
    weight = Weight(value=2.05, device_value="2.050", device_unit="kg", stable=True, raw="",
                    device="scale")  # fmt: skip
    barcodes = [Barcode(text=c, symbology="code128", source="cam", kind="unknown", check_ok=None)
                for c in codes]  # fmt: skip
    return ParcelEvent(
        event_id=uuid7(), seq=int(ago_s), site="hub", dock="d" + station[-1], station=station,
        ts=utcnow() - timedelta(seconds=ago_s), outcome=outcome, weight=weight, barcodes=barcodes,
        images=[f"cam-{ago_s:.0f}-{i}.jpg" for i in range(images)], agent_version="test",
    )  # fmt: skip


def seed(db: str, folder: Path, **gateway: object) -> ClearingSite:
    """Import a 3-line manifest, store read and unread parcels, and one of two images."""
    cfg = config(db, **gateway)
    codes = classifier_for(cfg)
    path = folder / "manifest.csv"
    path.write_text(f"tracking_id,declared_kg\n{s10(1)},2.0\n{s10(2)},1.0\n{s10(3)},5.0\n")
    events = {
        "read": event("st1", 600, "OK", (s10(3),)),
        "no_read": event("st1", 500, "NO_READ", images=2),  # the oldest unread
        "multi": event("st2", 400, "MULTI_READ", ("JJD000000000001", "JJD000000000002")),
        "invalid": event("st2", 300, "INVALID_CODE", (SCRIPT,)),
        "recent": event("st1", 10, "NO_READ", images=1),  # its image may still come
    }
    events["read"] = events["read"].model_copy(
        update={
            "barcodes": [
                Barcode(
                    text=s10(3), symbology="code128", source="cam", kind="upu_s10", check_ok=True
                )
            ]
        }
    )
    pixels = np.random.default_rng(1).integers(0, 255, (48, 64), dtype=np.uint8)
    jpeg = cv2.imencode(".jpg", pixels)[1].tobytes()
    with Store(db, reconciler=Reconciler(cfg, codes)) as store:
        import_manifest(store.conn, path, make_header(mawb="176-12345675"), cfg.manifests, codes,
                        rejudge=rejudger(cfg, codes))  # fmt: skip
        store.write(Batch(parcels=[(e, e.to_json(), epoch_ms(e.ts) + 40) for e in events.values()]))
        with transaction(store.conn):
            store.conn.execute(evidence.INSERT_SQL, (events["no_read"].event_id, 0, "st1",
                                                     now_ms(), len(jpeg), jpeg))  # fmt: skip
    return ClearingSite(cfg, {k: e.event_id for k, e in events.items()}, jpeg)
