"""A writing connection for the few web requests that change the store (the rest read only)."""

from pathlib import Path
from typing import Any

from dockscan.errors import StoreError
from gateway.db import is_postgres
from gateway.store import open_db
from gateway.web import web


def writer() -> Any:
    """Open a writing connection to the store; the caller closes it."""
    gw = web().cfg.gateway
    if not is_postgres(gw.database) and not Path(gw.database).exists():
        raise StoreError(f"no database at {gw.database}")
    return open_db(gw.database, gw.database_password())
