"""Render doctor results as an aligned table (fixes under each failure) or as JSON."""

import json

from dockscan.doctor.model import Result, Status


def summary(results: list[Result]) -> dict[str, int]:
    """Count the rows per status."""
    return {s.value.lower(): sum(r.status is s for r in results) for s in Status}


def table(target: str, results: list[Result]) -> str:
    """Return the table: status, check name, detail; a `fix:` line under non-ok rows."""
    width = max(len(r.name) for r in results)
    lines = [f"dockscan doctor: {target}"]
    for r in results:
        lines.append(f"{r.status.value:<4}  {r.name:<{width}}  {r.detail}")
        if r.fix and r.status is not Status.OK:
            lines.append(f"{'':<4}  {'':<{width}}  fix: {r.fix}")
    n = summary(results)
    verdict = "FAILED" if n["fail"] else "passed"
    lines.append(f"{verdict}: {n['ok']} ok, {n['warn']} warning(s), {n['fail']} failure(s)")
    return "\n".join(lines)


def as_json(target: str, results: list[Result]) -> str:
    """Return the results as one JSON document."""
    n = summary(results)
    doc = {
        "target": target,
        "ok": n["fail"] == 0,
        "summary": n,
        "checks": [r.as_dict() for r in results],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)
