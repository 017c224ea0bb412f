"""`python -m dockscan` with the PostgreSQL store's parcel insert swapped for one of pg_writes.py's.

For measuring what another write path would give the real gateway, without changing
gateway/store.py: `python bench/gateway_variant.py PATH gateway run -c site.toml`, where PATH
is a name from pg_writes.PATHS (`unnest` is the store's own). One process only: `--workers`
children start the plain `python -m dockscan` again.
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from pg_writes import PATHS  # noqa: E402

from dockscan.cli import cli  # noqa: E402
from gateway.store import Store  # noqa: E402


def main() -> None:
    """Patch the store's PostgreSQL insert, then run the CLI with the remaining arguments."""
    path = sys.argv.pop(1)
    insert = PATHS[path][1]
    if insert is not None:
        Store._insert_pg = lambda self, rows, codes: insert(self, rows, codes)  # type: ignore[method-assign]
    cli()


if __name__ == "__main__":
    main()
