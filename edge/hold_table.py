"""A hold list in little memory: the table, its file form, a reader taking one hold at a time.

A table keeps the sorted ids in one bytes object with an array of offsets and one reason byte
per id: about 26 bytes a hold, where a dict of str would take 170. The station's file holds the
same form, so a start loads 100,000 holds in milliseconds. `read_hold_list` validates a received
`dockscan.holds/1` payload hold by hold with the contract's own models, so a 100,000-hold list
never lives as 100,000 model objects at once (that would cost the station 60 MB while it lasts
and, as freed memory is rarely given back, for good).
"""

import json
import os
import re
from array import array
from dataclasses import dataclass, field
from itertools import accumulate, pairwise
from pathlib import Path

from dockscan.hub_events import Hold, HoldList, HoldReason

FILE_FORMAT = 2
REASONS = tuple(r.value for r in HoldReason)  # a reason's index is its byte in the table
SEP = b"\n"
MAX_HOLDS = HoldList.model_fields["holds"].metadata[0].max_length
_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


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
    def of_lists(
        cls, version: int, tids: list[str], reasons: bytearray, notes: dict[str, str]
    ) -> "HoldTable":
        """Return the table of holds in arrival order (a repeated id keeps its last reason)."""
        order = sorted(range(len(tids)), key=tids.__getitem__)  # stable: the last one wins
        kept = [at for at, nxt in pairwise([*order, -1]) if nxt < 0 or tids[nxt] != tids[at]]
        joined = b"".join(tids[at].encode("ascii") + SEP for at in kept)
        return cls.build(version, joined, bytes(reasons[at] for at in kept), notes)


def _space(text: str, at: int) -> int:
    """Return the position after any JSON whitespace at `at`."""
    return _SPACE.match(text, at).end()  # type: ignore[union-attr]


def _expect(text: str, at: int, chars: str) -> tuple[str, int]:
    """Return the character at `at` (one of `chars`) and the position after it and spaces."""
    char = text[at : at + 1]
    if not char or char not in chars:
        raise ValueError(f"expected one of {chars!r} at {at}, got {char!r}")
    return char, _space(text, at + 1)


class StaleList(Exception):
    """The list is not newer than the one in use (seen before its holds are read)."""

    def __init__(self, version: int) -> None:
        super().__init__(f"hold list version {version}")
        self.version = version


def read_hold_list(payload: bytes, newer_than: int = -1) -> tuple[HoldList, HoldTable]:
    """Validate a `dockscan.holds/1` payload one hold at a time; ValueError if it is not one.

    Returns the list's envelope (its `holds` left empty) and the table of its holds. When the
    version comes before the holds (as the gateway writes it) and is not above `newer_than`,
    raises StaleList without reading them: a retained list delivered again costs nothing.
    """
    text = payload.decode("utf-8")
    _, at = _expect(text, _space(text, 0), "{")
    envelope: dict[str, object] = {}
    tids: list[str] = []
    reasons, notes = bytearray(), {}
    char = ","
    while char == ",":
        key, at = _DECODER.raw_decode(text, at)
        if not isinstance(key, str):
            raise ValueError(f"bad key {key!r}")
        _, at = _expect(text, _space(text, at), ":")
        if key != "holds" or text[at : at + 1] != "[":
            envelope[key], at = _DECODER.raw_decode(text, at)
        else:
            version = envelope.get("version")
            if isinstance(version, int) and 0 <= version <= newer_than:
                raise StaleList(version)
            envelope[key] = []  # a repeated key: the last one counts, as for the model
            tids, reasons, notes = [], bytearray(), {}
            _, at = _expect(text, at, "[")
            more = "]" if text[at : at + 1] == "]" else ","
            at = _space(text, at + 1) if more == "]" else at
            while more == ",":
                item, at = _DECODER.raw_decode(text, at)
                hold = Hold.model_validate(item)  # the contract's own rules, one hold at a time
                if len(tids) == MAX_HOLDS:
                    raise ValueError(f"more than {MAX_HOLDS} holds")
                tids.append(hold.tracking_id)
                reasons.append(REASONS.index(hold.reason.value))
                notes.pop(hold.tracking_id, None)
                if hold.note:
                    notes[hold.tracking_id] = hold.note
                more, at = _expect(text, _space(text, at), ",]")
        char, at = _expect(text, _space(text, at), ",}")
    if at != len(text):
        raise ValueError("data after the JSON object")
    head = HoldList.model_validate(envelope)
    return head, HoldTable.of_lists(head.version, tids, reasons, notes)


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
    """Return the file form of a table: the joined ids, a reason index per id, the notes."""
    doc = {
        "format": FILE_FORMAT,
        "site": site,
        "version": table.version,
        "ts": ts,
        "count": len(table),
        "reason_names": REASONS,
        "ids": table.ids.decode("ascii"),
        "reasons": table.reasons.hex(),
        "notes": table.notes,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def table_of_file(data: bytes, site: str) -> HoldTable:
    """Return the table a stored file holds; ValueError if it is damaged or another site's."""
    doc = json.loads(data)  # stdlib: a quarter of orjson's peak memory on this shape
    if not isinstance(doc, dict) or doc.get("format") != FILE_FORMAT or doc.get("site") != site:
        raise ValueError(f"not a format-{FILE_FORMAT} hold list of site {site!r}")
    version, ids, notes = doc["version"], doc["ids"], doc["notes"]
    if not isinstance(version, int) or version < 0 or not isinstance(notes, dict):
        raise ValueError(f"bad version {version!r} or notes")
    if not isinstance(ids, str) or not all(isinstance(n, str) for n in notes.values()):
        raise ValueError("bad ids or notes")
    names = [REASONS.index(name) for name in doc["reason_names"]]  # as that file numbered them
    stored = bytes.fromhex(doc["reasons"])
    reasons = stored.translate(bytes(names[b] if b < len(names) else 255 for b in range(256)))
    table = HoldTable.build(version, ids.encode("ascii"), reasons, notes)
    if len(table) != doc.get("count"):
        raise ValueError(f"{len(table)} ids, the file says {doc.get('count')!r}")
    return table
