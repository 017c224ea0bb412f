"""POST /api/v1/manifests: import one manifest file sent by an operator, answer with the report.

The body is the file itself (text/csv, application/x-ndjson, or any type with `format`), or a
multipart form with the file in `file`. The unit is `kind` and `reference` (query or form
fields), else the file name by the drop folder's convention (`name`, or the form file's name).
The body is copied to a temporary file as it arrives, never held whole, and refused past
manifests.max_file_mb.
"""

import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

from flask import Blueprint, Response, abort, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import secure_filename

from gateway.clock import now_ms
from gateway.manifests import closeout
from gateway.manifests.importer import FileRejected, classifier_for, import_manifest
from gateway.manifests.intake import (
    format_for_name,
    header_for,
    header_for_name,
    header_json,
    report_json,
)
from gateway.manifests.model import Header, ManifestClosed, ManifestError
from gateway.reconcile.matcher import rejudger
from gateway.reconcile.worker import judge_pending
from gateway.web import web
from gateway.web.auth import operator_required
from gateway.web.writer import writer

bp = Blueprint("manifests", __name__, url_prefix="/api/v1")
CHUNK = 1 << 20
FORM_SLACK = 64 * 1024  # what a multipart body holds besides the file
TYPES = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "application/x-jsonlines": "jsonl",
}
_imports = threading.Lock()  # one import at a time per process: each is one write transaction


def max_bytes() -> int:
    """Return manifests.max_file_mb in bytes."""
    return int(web().cfg.manifests.max_file_mb * 1_000_000)


def _too_big() -> Any:
    """Abort with 413 naming the limit."""
    abort(413, f"the file is larger than manifests.max_file_mb ({max_bytes() / 1e6:g} MB)")


@bp.before_request
def _limit() -> None:
    """Refuse a declared length past the limit unread; bound what a chunked body may send."""
    request.max_content_length = max_bytes() + FORM_SLACK
    if (request.content_length or 0) > request.max_content_length:
        _too_big()


def _header(values: MultiDict, name: str) -> Header:
    """Return the unit from kind and reference, else from the file name; raise ManifestError."""
    if values.get("kind") or values.get("reference"):
        return header_for(
            values.get("kind"), values.get("reference"),
            carrier=values.get("carrier") or None, manifest_id=values.get("manifest_id") or None,
        )  # fmt: skip
    if name:
        return header_for_name(name)[0]
    raise ManifestError("say kind and reference (for a flight: LH8400/2026-11-27) or name")


def _copy(source: IO[bytes], path: Path) -> int:
    """Copy a body into path in chunks, refusing it past max_file_mb; return its size."""
    total, limit = 0, max_bytes()
    with open(path, "wb") as out:
        while chunk := source.read(CHUNK):
            total += len(chunk)
            if total > limit:
                _too_big()
            out.write(chunk)
    return total


@bp.route("/manifests", methods=["POST"])
@operator_required
def upload() -> Any:
    """Import the posted file into one manifest and return the import report (operator role)."""
    cfg = web().cfg
    values: MultiDict = MultiDict(request.args)
    try:
        if request.mimetype == "multipart/form-data":
            upload = request.files.get("file")
            if upload is None:
                abort(400, "the form has no file field named 'file'")
            values.update(request.form)
            name, mimetype, source = upload.filename or "", upload.mimetype, upload.stream
        else:
            name, mimetype, source = "", request.mimetype, request.stream
        name = values.get("name") or name
        header = _header(values, name)
        fmt = values.get("format") or format_for_name(name) or TYPES.get(mimetype)
        if fmt not in ("csv", "jsonl"):
            raise ManifestError("say format=csv or jsonl (or send text/csv, application/x-ndjson)")
        folder = Path(tempfile.mkdtemp(prefix="dockscan-manifest-"))
        try:
            path = folder / (secure_filename(name) or f"upload.{fmt}")
            _copy(source, path)
            with _imports:
                conn = writer()
                try:
                    codes = classifier_for(cfg)
                    report = import_manifest(conn, path, header, cfg.manifests, codes, fmt=fmt,
                                             rejudge=rejudger(cfg, codes))  # fmt: skip
                finally:
                    conn.close()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    except RequestEntityTooLarge:
        _too_big()
    except ManifestClosed as exc:
        return {"error": str(exc)}, 409
    except FileRejected as exc:
        return {"error": str(exc), "manifest": header_json(header), **report_json(exc.report)}, 422
    except ManifestError as exc:
        return {"error": str(exc)}, 400
    return {"manifest": header_json(header), **report_json(report)}


@bp.route("/manifests/<path:manifest_id>/close", methods=["POST"])
@operator_required
def close(manifest_id: str) -> Any:
    """Close an open manifest and return its close-out report (operator role; 409 if closed)."""
    body = request.get_json(silent=True) or {}
    who = str(body.get("actor") or request.values.get("actor") or f"api:{request.remote_addr}")
    with _imports:
        conn = writer()
        try:
            now = now_ms()  # parcels stored after the queue is judged come after the close
            judge_pending(conn, web().cfg)
            result = closeout.close(conn, manifest_id, who[:64], now, web().cfg)
        except closeout.UnknownManifest as exc:
            return {"error": str(exc)}, 404
        except closeout.AlreadyClosed as exc:
            path = f"/api/v1/manifests/{manifest_id}/report"
            return {"error": str(exc), "report_path": path}, 409
        except closeout.CloseoutError as exc:
            return {"error": str(exc)}, 400
        finally:
            conn.close()
    return closeout.report_json(result)


@bp.route("/manifests/<path:manifest_id>/report")
def report(manifest_id: str) -> Any:
    """Return a manifest's report as JSON, or with format=csv as a CSV download (viewer role)."""
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        return {"error": f"format {fmt!r}: use json or csv"}, 400
    try:
        result = closeout.report(web().db.conn(), manifest_id)
    except closeout.UnknownManifest as exc:
        return {"error": str(exc)}, 404
    if fmt == "json":
        return closeout.report_json(result)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", manifest_id)
    headers = {"Content-Disposition": f'attachment; filename="closeout-{name}.csv"'}
    return Response(closeout.report_csv(result), mimetype="text/csv", headers=headers)
