"""The station's hold book over real files: versions, bad lists, restarts, releases, flags."""

import json
from pathlib import Path

import pytest

from dockscan.codes import CodeClassifier
from dockscan.config import StationConfig
from dockscan.events import Barcode, ParcelEvent
from dockscan.hub_events import Hold, HoldList, HoldReason
from dockscan.ids import utcnow
from edge.devices.base import CapturedWeight, ScanRead
from edge.hold_table import StaleList, read_hold_list
from edge.holds import HoldBook, holds_path
from edge.outbox import Outbox
from edge.station import Station

HELD_ID = "RR123456785CN"
OTHER_ID = "340123450000000017"  # an SSCC


def hold_list(version: int, holds: dict[str, HoldReason], site: str = "s1") -> bytes:
    items = [
        Hold(tracking_id=t, reason=r, note="ref 42" if t == HELD_ID else "", since=utcnow())
        for t, r in holds.items()
    ]
    return HoldList(site=site, version=version, ts=utcnow(), holds=items).to_json()


def code(text: str, check_ok: bool | None = True) -> Barcode:
    return Barcode(text=text, symbology="code128", source="sc", kind="x", check_ok=check_ok)


@pytest.fixture
def book_path(tmp_path: Path) -> Path:
    return holds_path(tmp_path / "outbox.db")


def new_book(path: Path) -> HoldBook:
    return HoldBook(path, "s1", CodeClassifier({}))


def test_a_list_is_applied_stored_and_found_again_after_a_restart(book_path: Path) -> None:
    book = new_book(book_path)
    assert book.version == -1 and book.find([code(HELD_ID)]) is None
    assert book.apply(hold_list(3, {HELD_ID: HoldReason.CUSTOMS_REFERRAL,
                                    OTHER_ID: HoldReason.DAMAGE}))  # fmt: skip
    held = book.find([code("X1"), code(HELD_ID)])
    assert held is not None and (held.reason, held.note) == ("customs_referral", "ref 42")
    assert held.flag == "HELD:customs_referral"
    assert book.find([code("(00) 3 4012345 000000001 7")]).reason == "damage"  # type: ignore[union-attr]
    assert book.summary()["holds"] == 2 and book.summary()["holds_version"] == 3
    assert not book_path.with_name(book_path.name + ".tmp").exists()

    restarted = new_book(book_path)  # no broker, no gateway: the file alone
    assert (restarted.version, len(restarted)) == (3, 2)
    assert restarted.find([code(HELD_ID)]).note == "ref 42"  # type: ignore[union-attr]
    assert restarted.find([code("RR123456799CN")]) is None


def test_ids_match_as_a_scan_normalises_them(book_path: Path) -> None:
    book = new_book(book_path)
    book.apply(hold_list(1, {HELD_ID: HoldReason.INSPECTION}))
    for text in ("RR 123 456 785 CN", "rr123456785cn", " RR123456785CN "):
        assert book.find([code(text)]) is not None, text
    assert book.find([code(HELD_ID, check_ok=False)]) is None  # a misread is not this parcel
    assert book.find([code("RR123456785C")]) is None and book.find([code("é" * 13)]) is None


def test_stale_and_repeated_versions_are_ignored(book_path: Path) -> None:
    book = new_book(book_path)
    assert book.apply(hold_list(5, {HELD_ID: HoldReason.DO_NOT_LOAD}))
    assert not book.apply(hold_list(5, {}))  # the retained list again after a reconnect
    assert not book.apply(hold_list(4, {}))
    assert book.counters["holds_older_ignored"] == 1
    assert book.find([code(HELD_ID)]) is not None and new_book(book_path).version == 5


@pytest.mark.parametrize(
    "payload",
    [
        b"",  # a cleared retained message
        b"\xff{not json",
        b'{"schema": "dockscan.holds/2", "site": "s1", "version": 9, "ts": "x", "holds": []}',
        hold_list(9, {}, site="other"),
        json.dumps(
            {
                "schema": "dockscan.holds/1",
                "site": "s1",
                "version": 9,
                "ts": "2026-12-04T10:00:00Z",
                "holds": [
                    {
                        "tracking_id": "<script>\n",
                        "reason": "damage",
                        "since": "2026-12-04T10:00:00Z",
                    }
                ],
            }
        ).encode(),
    ],
    ids=["cleared", "not-json", "schema-2", "other-site", "bad-tracking-id"],
)
def test_an_invalid_list_is_counted_and_changes_nothing(book_path: Path, payload: bytes) -> None:
    book = new_book(book_path)
    book.apply(hold_list(2, {HELD_ID: HoldReason.DAMAGE}))
    assert not book.apply(payload)
    assert book.counters["invalid_holds"] == 1
    assert book.version == 2 and book.find([code(HELD_ID)]) is not None


def test_a_release_clears_the_hold_here_and_on_file(book_path: Path) -> None:
    book = new_book(book_path)
    book.apply(hold_list(1, {HELD_ID: HoldReason.DAMAGE, OTHER_ID: HoldReason.DAMAGE}))
    assert book.apply(hold_list(2, {OTHER_ID: HoldReason.DAMAGE}))  # HELD_ID released
    assert book.find([code(HELD_ID)]) is None
    assert new_book(book_path).find([code(HELD_ID)]) is None
    assert book.apply(hold_list(3, {}))  # the last one released: an empty list
    assert len(new_book(book_path)) == 0 and new_book(book_path).version == 3


def test_a_damaged_file_is_refused_and_counted(book_path: Path) -> None:
    new_book(book_path).apply(
        hold_list(1, {HELD_ID: HoldReason.DAMAGE, OTHER_ID: HoldReason.DAMAGE})
    )
    doc = json.loads(book_path.read_bytes())
    for damage in ({"ids": doc["ids"][::-1]}, {"reasons": "09" * doc["count"]}, {"count": 5},
                   {"site": "other"}, {"ids": doc["ids"].rstrip("\n")}):  # fmt: skip
        book_path.write_text(json.dumps({**doc, **damage}))
        book = new_book(book_path)
        assert (book.version, len(book), book.counters["holds_file_damaged"]) == (-1, 0, 1)
    book_path.write_bytes(b"\x00garbage")
    assert new_book(book_path).counters["holds_file_damaged"] == 1


def test_a_held_parcel_event_carries_the_flag(tmp_path: Path, book_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    station = Station("s1", StationConfig(id="st1", dock="d1"), outbox, "t")
    book = new_book(book_path)
    book.apply(hold_list(1, {HELD_ID: HoldReason.PROHIBITIONS_RESTRICTIONS}))
    station.flaggers.append(book.flags)
    events: list[ParcelEvent] = []
    station.on_captured.append(events.append)
    for i, text in enumerate(("RR 123 456 785 CN", "RR123456799CN")):
        station.on_scan(ScanRead("sc", "scanner", text, "code128", t=10.0 * i + 1))
        station.on_weight(CapturedWeight("w", 2.0, "2.000", "kg", b"2.000", t=10.0 * i + 1.1))
    assert [e.flags for e in events] == [["HELD:prohibitions_restrictions"], []]
    stored = [ParcelEvent.model_validate_json(r.payload) for r in outbox.rows_after(0, 10)]
    assert stored[0].flags == ["HELD:prohibitions_restrictions"]  # the contract takes the flag
    assert book.counters["held_parcels"] == 1
    outbox.close()


def reference(payload: bytes) -> list[tuple[str, str, str]] | None:
    """Return (id, reason, note) per distinct id as the contract model reads the payload."""
    try:
        holds = HoldList.model_validate_json(payload)
    except ValueError:
        return None
    latest = {h.tracking_id: (h.tracking_id, h.reason.value, h.note) for h in holds.holds}
    return sorted(latest.values())


def streamed(payload: bytes) -> list[tuple[str, str, str]] | None:
    """Return the same as `reference`, read one hold at a time by the station's reader."""
    try:
        _, table = read_hold_list(payload)
    except ValueError:
        return None
    ids = table.ids.decode().split("\n")[:-1]
    return [(t, table.reason(t), table.notes.get(t, "")) for t in ids]  # type: ignore[misc]


def test_the_streaming_reader_agrees_with_the_contract_model() -> None:
    since = "2026-12-04T10:00:00Z"
    hold = {"tracking_id": HELD_ID, "reason": "damage", "note": 'a, b ] } " x', "since": since}
    again = {"tracking_id": HELD_ID, "reason": "inspection", "since": since}  # the last one wins
    other = {"tracking_id": OTHER_ID, "reason": "do_not_load", "since": since}
    head = {"schema": "dockscan.holds/1", "site": "s1", "version": 3, "ts": since}
    variants = [
        json.dumps({**head, "holds": [hold, other]}),
        json.dumps({"holds": [other, hold, again], **head}, indent=2),  # holds first, spaced
        json.dumps({**head, "holds": []}) + " \n",
        json.dumps({**head, "holds": [hold]}).replace('"holds": [', '"holds":[ '),
    ]
    valid = variants[0]
    others = [valid[:cut] for cut in range(len(valid))] + [
        valid + "x",
        valid.replace("[", "[,"),
        valid.replace("}]", "},]"),
        valid[:-1] + ",}",
        valid.replace('"version": 3', '"version": 3, "version": -1'),
        valid.replace('"holds": [', '"holds": [], "holds": ['),
        valid.replace('"holds": [', '"holds": {"a": ').replace("]}", "}}"),
        valid.replace('"damage"', '"lost"'),
        valid.replace('"site"', '"extra": 1, "site"'),
        "[]",
        "",
        "null",
        valid.replace("dockscan.holds/1", "dockscan.holds/2"),
    ]
    for text in variants + others:
        payload = text.encode()
        assert streamed(payload) == reference(payload), text
    assert all(reference(v.encode()) is not None for v in variants)
    assert len(streamed(variants[1].encode()) or []) == 2
    with pytest.raises(StaleList):
        read_hold_list(valid.encode(), newer_than=3)  # the holds are never read
    assert read_hold_list(valid.encode(), newer_than=2)[0].version == 3
