"""The edge agent: devices, station, outbox, publisher, commands and screen of one station."""

import logging
import threading
import time
from pathlib import Path

from dockscan.config import SiteConfig
from dockscan.errors import DockscanError
from dockscan.events import ParcelEvent
from dockscan.mqtt import topics_for
from edge.commands import CommandHandler, CommandRunner
from edge.devices import build_device
from edge.devices.base import Device
from edge.devices.camera import CameraDevice
from edge.evidence_upload import EvidenceUploads, uploads_path
from edge.holds import HoldBook, held_reason, holds_path
from edge.outbox import Outbox
from edge.publisher import Publisher
from edge.screen import ScreenHub, ScreenServer
from edge.station import Station
from edge.synthetic import SyntheticLoad
from edge.verdicts import VerdictInbox, expects_verdict

logger = logging.getLogger(__name__)
TICK_S = 0.05
DRAIN_S = 3.0


def outbox_path(site_cfg: SiteConfig, station_id: str) -> Path:
    """Return where a station's outbox lives (config, else var/outbox-<station>.db)."""
    return Path(site_cfg.station(station_id).outbox or f"var/outbox-{station_id}.db")


class EdgeAgent:
    """One station's agent; `run()` blocks until `stop_event` is set (SIGINT/SIGTERM)."""

    def __init__(
        self,
        site_cfg: SiteConfig,
        station_id: str,
        *,
        outbox: str | Path | None = None,
        synthetic_rate: float = 0.0,
        synthetic_count: int = 0,
        exit_when_drained: bool = False,
    ) -> None:
        self.cfg = cfg = site_cfg.station(station_id)
        site = site_cfg.site.id
        self.stop_event = threading.Event()
        self.exit_when_drained = exit_when_drained
        path = outbox or outbox_path(site_cfg, station_id)
        self.outbox = Outbox(path, cfg.outbox_max_events, cfg.outbox_overflow, cfg.outbox_max_mb)
        topic = topics_for(site_cfg.broker).parcel(site, cfg.id)
        self.station = Station(site, cfg, self.outbox, topic, evidence=self._evidence)
        self.holdbook = HoldBook(holds_path(path), site, self.station.classifier)  # before scans
        self.station.flaggers.append(self.holdbook.flags)
        self.devices: list[Device] = [build_device(d, self.station) for d in cfg.devices]
        self.uploads = self._uploads(site_cfg, path) if cfg.evidence_upload else None
        self.publisher = Publisher(
            site,
            cfg,
            site_cfg.broker,
            self.outbox,
            devices=lambda: dict(self.station.devices),
            counters=self._counters,
            uploads=self.uploads,
        )
        handler = CommandHandler(self.devices, self.publisher.request_resend)
        self.commands = CommandRunner(handler, self.publisher.reply)
        self.publisher.commands = self.commands
        self.hub = ScreenHub(cfg.id, cfg.dock)
        self.hub.holds(len(self.holdbook), self.holdbook.version)
        self.holdbook.on_change.append(self.hub.holds)
        self.verdicts = VerdictInbox(site, cfg.id, self.hub.verdicts)
        self.publisher.routes["holds"] = self.holdbook.offer
        self.publisher.routes["verdict"] = self.verdicts.receive
        self.screen = ScreenServer(self.hub, cfg.screen_bind) if cfg.screen_bind else None
        self.synthetic = None
        if synthetic_count:
            self.synthetic = SyntheticLoad(self.station, synthetic_rate, synthetic_count)
        self.station.on_captured.append(self._queue_evidence)
        self.station.on_captured.append(lambda _event: self.publisher.wake())
        self.station.on_captured.append(self._show_captured)
        self.station.on_refused.append(lambda d, reason: self.hub.refused(d.outcome.value, reason))
        self.station.on_devices.append(self.hub.devices)
        self.station.on_devices.append(lambda _devices: self.publisher.publish_online())
        self.publisher.on_link.append(self.hub.link)
        self._ticker = threading.Thread(target=self._tick, name="ticker", daemon=True)
        self._started: list[Device] = []

    def _evidence(self, t: float) -> list[str]:
        """Collect the evidence images of an unread parcel from every camera."""
        images: list[str] = []
        for device in self.devices:
            if isinstance(device, CameraDevice):
                images.extend(device.evidence(t))
        return images

    def _uploads(self, site_cfg: SiteConfig, outbox: str | Path) -> EvidenceUploads | None:
        """Return the evidence queue when a camera keeps evidence (None: nothing to send)."""
        cameras = [d for d in self.devices if isinstance(d, CameraDevice)]
        if not cameras:
            return None

        def locate(name: str) -> Path | None:
            return next((p for c in cameras if (p := c.evidence_path(name)) is not None), None)

        max_bytes = int(max(c.cfg.evidence_max_kb for c in cameras) * 1024)
        return EvidenceUploads(
            uploads_path(outbox), topics_for(site_cfg.broker), site_cfg.site.id, self.cfg.id,
            locate, max_bytes, self.cfg.evidence_upload_max_age_s,
        )  # fmt: skip

    def _queue_evidence(self, event: ParcelEvent) -> None:
        """Queue a committed event's evidence images for the gateway."""
        if self.uploads is not None and event.images:
            self.uploads.queue(event.event_id, list(event.images))

    def _counters(self) -> dict[str, int]:
        """Return the station's, the hold list's and the evidence queue's counters."""
        extra = self.uploads.stats() if self.uploads is not None else {}
        return {**self.station.counter_snapshot(), **self.holdbook.counters, **extra}

    def _show_captured(self, event: ParcelEvent) -> None:
        """Show a committed parcel with its hold (note included) and whether a verdict is due."""
        hold = self.holdbook.find(event.barcodes) if held_reason(event.flags) else None
        self.hub.captured(event, hold, expects_verdict(event, self.station.classifier))

    def start(self) -> None:
        """Start screen, holds, publisher, commands, devices, ticker and any synthetic load."""
        if self.screen:
            self.screen.start()
        self.holdbook.start()
        self.publisher.start()
        self.commands.start()
        for device in self.devices:
            self.station.on_device_state(device.id, device.kind, "starting", "")
            try:
                device.start()
                self._started.append(device)
            except DockscanError as exc:
                self.station.on_device_state(device.id, device.kind, "fault", str(exc))
        self._ticker.start()
        if self.synthetic:
            self.synthetic.start()

    def _tick(self) -> None:
        """Expire pairing windows, refresh the screen's outbox figures, stop when drained."""
        last_stats = 0.0
        while not self.stop_event.wait(TICK_S):
            self.station.tick()
            if time.monotonic() - last_stats >= 1.0:
                last_stats = time.monotonic()
                self.hub.outbox(self.outbox.depth, self.outbox.oldest_age_s())
            if self.exit_when_drained and self._drained():
                logger.info("synthetic load delivered and acknowledged; stopping")
                self.stop_event.set()

    def _drained(self) -> bool:
        """Return whether the synthetic load is done and the outbox is empty."""
        done = self.synthetic is None or self.synthetic.done.is_set()
        return done and self.outbox.depth == 0

    def run(self) -> None:
        """Start, block until the stop event is set, then shut down in order."""
        try:
            self.start()
            self.stop_event.wait()
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        """Stop in a fixed order: devices, flush, publisher (offline status, disconnect), rest."""
        self.stop_event.set()
        if self.synthetic:
            self.synthetic.stop()
        for device in reversed(self._started):
            try:
                device.stop()
            except Exception:
                logger.exception("device %s did not stop cleanly", device.id)
        if self._ticker.is_alive():
            self._ticker.join(2)
        self.station.flush()
        deadline = time.monotonic() + DRAIN_S
        while self.publisher.connected and self.outbox.depth and time.monotonic() < deadline:
            self.publisher.wake()
            time.sleep(0.05)
        self.commands.stop()
        self.publisher.stop()
        if self.uploads is not None:
            self.uploads.close()
        self.holdbook.stop()
        if self.screen:
            self.screen.stop()
        logger.info("stopped; %d event(s) left in the outbox for next time", self.outbox.depth)
        self.outbox.close()
