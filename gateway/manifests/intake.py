"""What the drop folder and the API share: a header from a file name or a reference, the report.

File names follow one convention, fields separated by `_`, anything after them a free note:

    flight_<flight>_<YYYY-MM-DD>[_<note>].<ext>   flight_LH8400_2026-11-27.csv
    mawb_<NNN-NNNNNNNN>[_<note>].<ext>            mawb_176-12345675.csv
    uld_<ULD id>[_<note>].<ext>                   uld_AKE12345CZ_0930.jsonl
    bag_<bag id>[_<note>].<ext>                   bag_B0042.csv

`.csv`, `.txt` and `.tsv` are CSV (the delimiter is manifests.delimiter); `.jsonl` and `.ndjson`
are JSON lines. A bag id holding `_` cannot be named this way; import it by the CLI or the API.
"""

from pathlib import PurePath
from typing import Any

from gateway.manifests.importer import Report
from gateway.manifests.model import KINDS, Header, ManifestError, make_header

FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
CONVENTION = (
    "name it flight_<flight>_<YYYY-MM-DD>.csv, mawb_<NNN-NNNNNNNN>.csv, uld_<ULD id>.csv or"
    " bag_<bag id>.csv (.jsonl or .ndjson for JSON lines)"
)


def format_for_name(name: str) -> str | None:
    """Return csv or jsonl for a file name's suffix, or None when the suffix says neither."""
    return FORMATS.get(PurePath(name).suffix.lower())


def header_for_name(name: str) -> tuple[Header, str]:
    """Return the header and format a file name gives by the convention, or raise ManifestError."""
    path = PurePath(name)
    fmt = format_for_name(name)
    if fmt is None:
        raise ManifestError(f"{name}: unknown suffix {path.suffix!r}: {CONVENTION}")
    kind, *fields = path.stem.split("_")
    kind = kind.lower()
    need = 2 if kind == "flight" else 1
    if kind not in KINDS or len(fields) < need or not all(fields[:need]):
        raise ManifestError(f"{name}: not a manifest file name: {CONVENTION}")
    try:
        if kind == "flight":
            return make_header("flight", flight=fields[0], flight_date=fields[1]), fmt
        return make_header(kind, **{kind: fields[0]}), fmt
    except ManifestError as exc:
        raise ManifestError(f"{name}: {_plain(exc)}") from None


def header_for(
    kind: str | None,
    reference: str | None,
    *,
    carrier: str | None = None,
    manifest_id: str | None = None,
) -> Header:
    """Return the header for a kind and its reference (a flight's is FLIGHT/YYYY-MM-DD)."""
    if not kind or not reference:
        raise ManifestError("say kind and reference (for a flight: LH8400/2026-11-27)")
    if kind not in KINDS:
        raise ManifestError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    try:
        if kind == "flight":
            flight, _, day = reference.replace("_", "/").partition("/")
            if not day:
                raise ManifestError(f"flight reference {reference!r}: write FLIGHT/YYYY-MM-DD")
            return make_header(kind, manifest_id, carrier=carrier, flight=flight, flight_date=day)
        return make_header(kind, manifest_id, carrier=carrier, **{kind: reference})
    except ManifestError as exc:
        raise ManifestError(_plain(exc)) from None


def _plain(exc: ManifestError) -> str:
    """Return a header error without the CLI's option dashes (`--mawb: ...` -> `mawb: ...`)."""
    return str(exc).removeprefix("--").replace(" --", " ")


def report_json(report: Report) -> dict[str, Any]:
    """Return an import report as JSON-ready values, each kept rejected line as an object."""
    out: dict[str, Any] = {k: v for k, v in vars(report).items() if k != "rejects"}
    out["rejects"] = [vars(r) for r in report.rejects]
    out["summary"] = report.summary()
    return out


def header_json(header: Header) -> dict[str, Any]:
    """Return the unit a manifest describes: id, kind, reference and the set identifiers."""
    return {k: v for k, v in vars(header).items() if v is not None}
