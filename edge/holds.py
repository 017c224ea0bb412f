"""The site's customs holds kept on the station: validated, versioned, stored in one atomic file.

The gateway publishes every current hold of the site as one retained `dockscan.holds/1` list.
The station keeps the highest version it got, in memory and in `<outbox>.holds.json` (written
to a temporary file, fsynced and renamed over the old one), so a restart with no broker finds
the last list whole. In memory a list is compact: the sorted ids in one bytes object with an
array of offsets and one reason byte per id (about 20 bytes a hold, not the 170 of a dict), and
the file holds that same form, so a start loads 100,000 holds in milliseconds. A parcel whose
code normalises (`dockscan.codes.tracking_id`, as the gateway does) to a held id gets the flag
`HELD:<reason>`; that decision needs neither the broker nor the gateway.
"""

import json
import logging
import os
import threading
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import accumulate, pairwise
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from dockscan.codes import CodeClassifier, tracking_id
from dockscan.events import Barcode
from dockscan.hub_events import HoldList, HoldReason
from dockscan.logs import RateLimitedLog

logger = logging.getLogger(__name__)
FILE_FORMAT = 2
HELD_PREFIX = "HELD:"
REASON_WORDS = {
    HoldReason.CUSTOMS_REFERRAL.value: "customs referral",
    HoldReason.DO_NOT_LOAD.value: "do not load",
    HoldReason.INSPECTION.value: "inspection",
    HoldReason.PROHIBITIONS_RESTRICTIONS.value: "prohibited or restricted goods",
    HoldReason.DAMAGE.value: "damage",
}
REASONS = list(REASON_WORDS)  # a reason's index is its byte in the table and its digit on file
SEP = b"\n"
COUNTERS = ("held_parcels", "invalid_holds", "holds_older_ignored", "holds_not_stored",
            "holds_file_damaged")  # fmt: skip
FROM_DIGITS = bytes.maketrans(b"0123456789", bytes(range(10)))
TO_DIGITS = bytes.maketrans(bytes(range(10)), b"0123456789")


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


@dataclass(frozen=True)
class HoldTable:
    """One hold list in memory, swapped whole so readers never see half of one."""

    version: int = -1
    ids: bytes = b""  # the sorted ids, each followed by SEP
    starts: array = field(default_factory=lambda: array("I", [0]))  # n + 1 offsets into ids
    reasons: bytes = b""  # one index into REASONS per id
    notes: dict[str, str] = field(default_factory=dict)  # only the ids that have one

    def __len__(self) -> int:
        """Return how many ids are held."""
        return len(self.reasons)

    def index(self, tid: bytes) -> int:
        """Return the position of `tid` (binary search), or -1."""
        ids, starts = self.ids, self.starts
        lo, hi = 0, len(self.reasons)
        while lo < hi:
            mid = (lo + hi) // 2
            key = ids[starts[mid] : starts[mid + 1] - 1]
            if key == tid:
                return mid
            if key < tid:
                lo = mid + 1
            else:
                hi = mid
        return -1

    def reason(self, tid: str) -> str | None:
        """Return why `tid` is held, or None."""
        try:
            at = self.index(tid.encode("ascii"))
        except UnicodeEncodeError:
            return None  # held ids are printable ASCII
        return None if at < 0 else REASONS[self.reasons[at]]

    @classmethod
    def build(
        cls, version: int, joined: bytes, reasons: bytes, notes: dict[str, str]
    ) -> "HoldTable":
        """Return a table of `joined` (sorted unique ids, each ending in SEP); ValueError if bad."""
        if joined and not joined.endswith(SEP):
            raise ValueError("the id list does not end with a separator")
        parts = joined.split(SEP)[:-1]
        if len(parts) != len(reasons) or any(r >= len(REASONS) for r in set(reasons)):
            raise ValueError(f"{len(parts)} ids but {len(reasons)} reasons, or a bad reason")
        if any(a >= b for a, b in pairwise(parts)) or b"" in parts[:1]:
            raise ValueError("ids are not sorted and unique")
        starts = array("I", accumulate((len(p) + 1 for p in parts), initial=0))
        return cls(version, joined, starts, reasons, notes)

    @classmethod
    def of(cls, holds: HoldList) -> "HoldTable":
        """Return the table of a received list (a repeated id keeps its last reason)."""
        latest = {h.tracking_id: h for h in holds.holds}
        order = sorted(latest)
        joined = b"".join(t.encode("ascii") + SEP for t in order)
        reasons = bytes(REASONS.index(latest[t].reason.value) for t in order)
        notes = {t: h.note for t, h in latest.items() if h.note}
        return cls.build(holds.version, joined, reasons, notes)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data`: temporary file, fsync, rename, fsync of the folder."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def table_file(site: str, table: HoldTable, ts: str) -> bytes:
    """Return the file form of a table: the joined ids, a digit per reason, the notes."""
    doc = {
        "format": FILE_FORMAT,
        "site": site,
        "version": table.version,
        "ts": ts,
        "count": len(table),
        "ids": table.ids.decode("ascii"),
        "reasons": table.reasons.translate(TO_DIGITS).decode("ascii"),
        "notes": table.notes,
    }
    return orjson.dumps(doc)


def table_of_file(data: bytes, site: str) -> HoldTable:
    """Return the table a stored file holds; ValueError if it is damaged or another site's."""
    doc = json.loads(data)  # stdlib: a quarter of orjson's peak memory on this shape
    if not isinstance(doc, dict) or doc.get("format") != FILE_FORMAT or doc.get("site") != site:
        raise ValueError(f"not a format-{FILE_FORMAT} hold list of site {site!r}")
    version, ids, reasons, notes = doc["version"], doc["ids"], doc["reasons"], doc["notes"]
    if not isinstance(version, int) or version < 0 or not isinstance(notes, dict):
        raise ValueError(f"bad version {version!r} or notes")
    if (
        not isinstance(ids, str)
        or not isinstance(reasons, str)
        or (reasons and not reasons.isdigit())
    ):
        raise ValueError("bad ids or reasons")
    if not all(isinstance(n, str) for n in notes.values()):
        raise ValueError("a note is not text")
    table = HoldTable.build(
        version, ids.encode("ascii"), reasons.encode("ascii").translate(FROM_DIGITS), notes
    )
    if len(table) != doc.get("count"):
        raise ValueError(f"{len(table)} ids, the file says {doc.get('count')!r}")
    return table


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
            holds = HoldList.model_validate_json(payload)
        except ValidationError as exc:
            self.counters["invalid_holds"] += 1
            self._slow.warning("bad", "ignored a malformed hold list: %s", exc)
            return False
        if holds.site != self.site:
            self.counters["invalid_holds"] += 1
            self._slow.warning("site", "ignored a hold list of site %r", holds.site)
            return False
        if holds.version <= self.version:
            if holds.version < self.version:
                self.counters["holds_older_ignored"] += 1
                logger.info("ignored hold list version %d: have %d", holds.version, self.version)
            return False
        table = HoldTable.of(holds)
        del holds
        self._table = table  # in use at once, stored or not
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, table_file(self.site, table, time.strftime("%FT%TZ")))
        except OSError as exc:
            self.counters["holds_not_stored"] += 1
            logger.error("hold list version %d in use but NOT stored: %s", table.version, exc)
        logger.info("hold list version %d: %d held id(s)", table.version, len(table))
        for callback in self.on_change:
            callback(len(table), table.version)
        return True

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
