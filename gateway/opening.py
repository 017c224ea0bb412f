"""Open the ingest's store, waiting out a PostgreSQL server that is not reachable yet.

MQTT waits until the store is open: the session number comes from the store, and the persistent
session would at once deliver messages that nothing could commit. The store queues each new
parcel for its verdict; the reconciler process (gateway/reconcile/worker.py) decides them.
"""

import threading
import time

from dockscan.config import SiteConfig
from gateway.outage import StoreGuard, transient
from gateway.reconcile.matcher import Reconciler
from gateway.store import Store


def open_store(
    cfg: SiteConfig,
    gateway: str,
    guard: StoreGuard,
    stop: threading.Event,
    reconciler: Reconciler | None,
) -> Store | None:
    """Open the store, retrying with backoff while PostgreSQL is unreachable; None if stopped."""
    gw, stations = cfg.gateway, [(s.id, s.dock) for s in cfg.stations]
    while not stop.is_set():
        store = None
        try:
            store = Store(gw.database, background_checkpoints=True, gateway=gateway,
                          password=gw.database_password(), reconciler=reconciler,
                          judge=False)  # fmt: skip
            store.ensure_stations(cfg.site.id, stations)
        except Exception as exc:
            if store is not None:
                store.close()
            if not (gw.postgres and transient(exc)):
                raise
            guard.failed("opening the store", exc)
            stop.wait(guard.retry_at - time.monotonic())
            continue
        guard.succeeded()
        return store
    return None
