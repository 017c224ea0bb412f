"""The clearing backlog: unread parcels no clerk has resolved yet (the clearing_open table).

A row is added in the parcel's own transaction and deleted by its first correction, so the
desk, the board and /metrics read the backlog, not every unread parcel ever stored.
"""

from typing import Any

from dockscan.correction_events import CLEARED_OUTCOMES
from dockscan.events import ParcelEvent

ADD_SQL = (
    "INSERT INTO clearing_open (event_id, station, dock, ts_ms, received_ms, images)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING"
)


def add(conn: Any, parcels: list[tuple[ParcelEvent, int, int]]) -> None:
    """Open the unread ones of these new parcels (event, ts ms, received ms) at the desk."""
    items = [
        (e.event_id, e.station, e.dock, ts, received, len(e.images))
        for e, ts, received in parcels
        if e.outcome in CLEARED_OUTCOMES
    ]
    if items:
        conn.executemany(ADD_SQL, items)


def close(conn: Any, event_id: str) -> None:
    """Take a parcel off the desk (in the transaction that stores its correction)."""
    conn.execute("DELETE FROM clearing_open WHERE event_id = ?", (event_id,))
