"""Helpers of the manifest import tests: rows, files, the import call and lookups."""

from pathlib import Path
from typing import Any

from dockscan.codes import CodeClassifier, s10_with_check
from dockscan.config import ManifestsConfig
from gateway.manifests.importer import Report, import_manifest
from gateway.manifests.model import Header, make_header

CFG = ManifestsConfig()
PLAIN = CodeClassifier()
HEADER = "tracking_id,declared_kg,hawb,bag,declared_value,currency,ioss,country,hs_code,description"


def s10(i: int) -> str:
    """Return the i-th valid S10 id."""
    return s10_with_check("RR", 10_000_000 + i, "CN")


def good_rows(n: int, kg: float = 1.5) -> list[str]:
    """Return n valid CSV data rows."""
    return [f"{s10(i)},{kg + i / 1000:.3f},H{i},B1,10.00,EUR,IM1234567890,BE,847130,item {i}"
            for i in range(n)]  # fmt: skip


def write(path: Path, rows: list[str], header: str = HEADER) -> Path:
    """Write a CSV file with a header."""
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def run(conn: Any, path: Path, header: Header | None = None, **kw: Any) -> Report:
    """Import a file into the test MAWB manifest."""
    header = header or make_header(mawb="176-12345675")
    return import_manifest(conn, path, header, kw.pop("cfg", CFG), PLAIN, **kw)


def lines(conn: Any, manifest_id: str = "mawb:176-12345675") -> dict[str, tuple]:
    """Return tracking id -> (line_no, kg, description, removed) of a manifest's lines."""
    rows = conn.execute(
        "SELECT tracking_id, line_no, declared_kg, description, removed_ms IS NOT NULL"
        " FROM manifest_lines WHERE manifest_id = ?",
        (manifest_id,),
    ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def count(conn: Any, table: str) -> int:
    """Return a table's row count."""
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
