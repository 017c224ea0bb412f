"""The site's customs holds kept on the station: validated, versioned, stored in one atomic file.

The gateway publishes every current hold of the site as one retained `dockscan.holds/1` list.
The station keeps the highest version it got, in memory and in `<outbox>.holds.json` (written
to a temporary file, fsynced and renamed over the old one), so a restart with no broker finds
the last list whole; `edge.hold_table` keeps it small. A parcel whose code normalises
(`dockscan.codes.tracking_id`, as the gateway does) to a held id gets the flag
`HELD:<reason>`; that decision needs neither the broker nor the gateway.
"""

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockscan.codes import CodeClassifier, tracking_id
from dockscan.events import Barcode
from dockscan.hub_events import HoldReason
from dockscan.logs import RateLimitedLog
from edge.hold_table import (
    HoldTable,
    StaleList,
    read_hold_list,
    table_file,
    table_of_file,
    write_atomic,
)

logger = logging.getLogger(__name__)
HELD_PREFIX = "HELD:"
REASON_WORDS = {
    HoldReason.CUSTOMS_REFERRAL.value: "customs referral",
    HoldReason.DO_NOT_LOAD.value: "do not load",
    HoldReason.INSPECTION.value: "inspection",
    HoldReason.PROHIBITIONS_RESTRICTIONS.value: "prohibited or restricted goods",
    HoldReason.DAMAGE.value: "damage",
}
COUNTERS = ("held_parcels", "invalid_holds", "holds_older_ignored", "holds_not_stored",
            "holds_file_damaged")  # fmt: skip


def holds_path(outbox: str | Path) -> Path:
    """Return where a station keeps its hold list: next to its outbox."""
    return Path(f"{outbox}.holds.json")


def reason_words(reason: str) -> str:
    """Return a hold reason in words for the dock worker."""
    return REASON_WORDS.get(reason, reason.replace("_", " "))


def held_reason(flags: Iterable[str]) -> str | None:
    """Return the reason of an event's HELD flag, or None when it has none."""
    return next((f[len(HELD_PREFIX) :] for f in flags if f.startswith(HELD_PREFIX)), None)


@dataclass(frozen=True)
class Held:
    """A parcel the hold list names: its normalised id, the reason and the customs note."""

    tracking_id: str
    reason: str
    note: str

    @property
    def flag(self) -> str:
        """Return the event flag, e.g. HELD:customs_referral (at most 30 characters)."""
        return HELD_PREFIX + self.reason


class HoldBook:
    """The latest hold list this station received; lookups read one table, no lock."""

    def __init__(self, path: str | Path, site: str, classifier: CodeClassifier) -> None:
        self.path, self.site, self.classifier = Path(path), site, classifier
        self.counters: Counter[str] = Counter(
            dict.fromkeys(COUNTERS, 0)
        )  # fixed keys: safe to copy
        self.on_change: list[Callable[[int, int], None]] = []  # (count, version), holds thread
        self.load_ms = 0.0
        self._table = HoldTable()
        self._pending: bytes | None = None
        self._pending_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._slow = RateLimitedLog(logger, 30)
        self._thread = threading.Thread(target=self._run, name="holds", daemon=True)
        self.load()

    # state ----------------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """Return the version of the list in use (-1: none received yet)."""
        return self._table.version

    def __len__(self) -> int:
        """Return how many tracking ids are held."""
        return len(self._table)

    def summary(self) -> dict[str, int]:
        """Return the figures the screen and telemetry show."""
        return {"holds": len(self), "holds_version": self.version, **self.counters}

    # lookups --------------------------------------------------------------------------------

    def find(self, barcodes: Iterable[Barcode]) -> Held | None:
        """Return the hold of the first code (check digits not failed) whose id is held."""
        table = self._table
        if not len(table):
            return None
        for code in barcodes:
            if code.check_ok is False:
                continue
            tid = tracking_id(code.text, self.classifier).value
            reason = table.reason(tid)
            if reason is not None:
                return Held(tid, reason, table.notes.get(tid, ""))
        return None

    def flags(self, decision: Any) -> list[str]:
        """Return the HELD flag for a station decision whose codes are held (a Station flagger)."""
        held = self.find(decision.barcodes)
        if held is None:
            return []
        self.counters["held_parcels"] += 1
        logger.warning("parcel %s is HELD: %s", held.tracking_id, held.reason)
        return [held.flag]

    # the file -------------------------------------------------------------------------------

    def load(self) -> bool:
        """Load the stored list, if any; a missing or damaged file leaves the book as it was."""
        start = time.perf_counter()
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return False
        except OSError as exc:
            logger.error("cannot read the hold list %s: %s", self.path, exc)
            return False
        try:
            table = table_of_file(data, self.site)
        except (ValueError, KeyError, TypeError) as exc:  # UnicodeError is a ValueError
            logger.error("ignoring the damaged hold list %s: %s", self.path, exc)
            self.counters["holds_file_damaged"] += 1
            return False
        self._table = table
        self.load_ms = (time.perf_counter() - start) * 1000
        logger.info(
            "hold list version %d loaded: %d held id(s) in %.1f ms",
            table.version, len(table), self.load_ms,
        )  # fmt: skip
        return True

    # receiving ------------------------------------------------------------------------------

    def apply(self, payload: bytes) -> bool:
        """Validate a HoldList; keep it if it is newer; return whether it was taken."""
        try:
            holds, table = read_hold_list(payload, newer_than=self.version)
        except StaleList as stale:
            return self._not_newer(stale.version)
        except ValueError as exc:  # pydantic's ValidationError and JSON errors are ValueErrors
            self.counters["invalid_holds"] += 1
            self._slow.warning("bad", "ignored a malformed hold list: %s", exc)
            return False
        if holds.site != self.site:
            self.counters["invalid_holds"] += 1
            self._slow.warning("site", "ignored a hold list of site %r", holds.site)
            return False
        if holds.version <= self.version:
            return self._not_newer(holds.version)
        self._table = table  # in use at once, stored or not
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            write_atomic(self.path, table_file(self.site, table, stamp))
        except OSError as exc:
            self.counters["holds_not_stored"] += 1
            logger.error("hold list version %d in use but NOT stored: %s", table.version, exc)
        logger.info("hold list version %d: %d held id(s)", table.version, len(table))
        for callback in self.on_change:
            callback(len(table), table.version)
        return True

    def _not_newer(self, version: int) -> bool:
        """Ignore a list not newer than ours (the same one comes again on every reconnect)."""
        if version < self.version:
            self.counters["holds_older_ignored"] += 1
            logger.info("ignored hold list version %d: have %d", version, self.version)
        return False

    def offer(self, payload: bytes) -> None:
        """Hand a received list to the holds thread (paho's thread: never blocks)."""
        with self._pending_lock:
            self._pending = payload  # only the newest one matters
        self._wake.set()

    def start(self) -> None:
        """Start the thread that validates and stores received lists."""
        self._thread.start()

    def stop(self) -> None:
        """Apply what is pending and stop the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _run(self) -> None:
        """Apply each newest pending list; a bad one is logged, never fatal."""
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._pending_lock:
                payload, self._pending = self._pending, None
            if payload is not None:
                try:
                    self.apply(payload)
                except Exception:
                    logger.exception("hold list not applied")
            if self._stop.is_set():
                return
