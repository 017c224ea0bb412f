"""POST /api/v1/manifests on both backends: the operator role, headers, formats, size bounds."""

import http.client
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from dockscan.config import ManifestsConfig, SiteConfig
from gateway.web import create_app
from gateway.web.server import shutdown
from tests.gateway.conftest import OPERATOR, VIEWER, WebSite, serving
from tests.gateway.manifest_support import HEADER, good_rows, s10

OP = {"Authorization": f"Bearer {OPERATOR}"}
SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
URL = "/api/v1/manifests"
MAWB = {"kind": "mawb", "reference": "176-12345675"}


def csv_body(rows: list[str], header: str = "tracking_id,declared_kg") -> bytes:
    """Return a CSV file's bytes."""
    return ("\n".join([header, *rows]) + "\n").encode()


def with_manifests(cfg: SiteConfig, **settings: Any) -> SiteConfig:
    """Return the site config with other [manifests] settings."""
    return cfg.model_copy(update={"manifests": ManifestsConfig(**settings)})


def lines(site: WebSite, manifest_id: str = "mawb:176-12345675") -> list[tuple]:
    """Return (line_no, tracking_id) of a manifest's live lines in file order."""
    rows = site.conn.execute(
        "SELECT line_no, tracking_id FROM manifest_lines WHERE manifest_id = ?"
        " AND removed_ms IS NULL ORDER BY line_no",
        (manifest_id,),
    ).fetchall()
    return [tuple(r) for r in rows]


@pytest.fixture
def app(web_site: WebSite) -> Iterator[Flask]:
    """The app with a viewer and an operator token, and a 1 MB manifest limit."""
    cfg = with_manifests(web_site.cfg, max_file_mb=1)
    app = create_app(cfg, {"TESTING": True, "ACCESS_TOKEN": VIEWER, "OPERATOR_TOKEN": OPERATOR})
    yield app
    shutdown(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for the app."""
    return app.test_client()


def test_only_the_operator_may_import(client: FlaskClient, web_site: WebSite) -> None:
    body = csv_body([f"{s10(1)},1.5"])
    anonymous = client.post(URL, query_string=MAWB, data=body, content_type="text/csv")
    assert anonymous.status_code == 401 and anonymous.json == {"error": "authentication required"}
    viewer = {"Authorization": f"Bearer {VIEWER}"}
    denied = client.post(URL, query_string=MAWB, data=body, content_type="text/csv",
                         headers=viewer)  # fmt: skip
    assert denied.status_code == 403 and "operator role" in denied.json["error"]
    wrong = client.post(URL, query_string=MAWB, data=body, headers={"Authorization": "Bearer x"})
    assert wrong.status_code == 401
    assert lines(web_site) == []
    done = client.post(URL, query_string=MAWB, data=body, content_type="text/csv", headers=OP)
    assert done.status_code == 200, done.json
    assert lines(web_site) == [(2, s10(1))]


def test_the_report_names_each_rejected_line(client: FlaskClient, web_site: WebSite) -> None:
    body = csv_body([f"{s10(1)},1.5", "RR123456784CN,1", f"{s10(2)},abc", f"{s10(3)},3"])
    resp = client.post(URL, query_string=MAWB, data=body, content_type="text/csv", headers=OP)
    assert resp.status_code == 200
    got = resp.json
    assert got["manifest"] == {"id": "mawb:176-12345675", "kind": "mawb",
                               "reference": "176-12345675", "mawb": "176-12345675"}  # fmt: skip
    assert (got["lines"], got["inserted"], got["rejected"], got["format"]) == (4, 2, 2, "csv")
    assert got["rejects"] == [
        {"line_no": 3, "field": "tracking_id",
         "reason": "'RR123456784CN': S10 mod-11 check failed"},
        {"line_no": 4, "field": "declared_kg", "reason": "'abc' is not a number"},
    ]  # fmt: skip
    assert got["source_name"] == "upload.csv" and got["bytes"] == len(body)
    assert lines(web_site) == [(2, s10(1)), (5, s10(3))]
    schema = yaml.safe_load(SPEC.read_text())["components"]["schemas"]["ManifestReport"]
    assert set(schema["required"]) <= set(got) <= set(schema["properties"])
    assert set(got["rejects"][0]) == set(schema["properties"]["rejects"]["items"]["required"])
    again = client.post(URL, query_string=MAWB, data=body, content_type="text/csv", headers=OP)
    assert again.json["already_imported"] is True and again.json["inserted"] == 0


def test_json_lines_and_a_multipart_form(client: FlaskClient, web_site: WebSite) -> None:
    body = b"".join(json.dumps({"tracking_id": s10(i), "declared_kg": 2}).encode() + b"\n"
                    for i in range(3))  # fmt: skip
    flight = {"kind": "flight", "reference": "LH8400/2026-11-27", "name": "lh.jsonl"}
    resp = client.post(URL, query_string=flight, data=body, content_type="application/x-ndjson",
                       headers=OP)  # fmt: skip
    assert resp.status_code == 200, resp.json
    assert (resp.json["format"], resp.json["source_name"]) == ("jsonl", "lh.jsonl")
    assert resp.json["manifest"]["carrier"] == "LH"
    assert len(lines(web_site, "flight:LH8400/2026-11-27")) == 3
    form = {"file": (io.BytesIO(csv_body([f"{s10(7)},1"])), "uld_AKE12345CZ_0930.csv")}
    named = client.post(URL, data=form, content_type="multipart/form-data", headers=OP)
    assert named.status_code == 200, named.json
    assert named.json["manifest"]["id"] == "uld:AKE12345CZ"
    form = {"file": (io.BytesIO(body), "anything.jsonl"), "kind": "bag", "reference": "B1"}
    fields = client.post(URL, data=form, content_type="multipart/form-data", headers=OP)
    assert fields.status_code == 200 and fields.json["manifest"]["id"] == "bag:B1"
    assert len(lines(web_site, "bag:B1")) == 3


@pytest.mark.parametrize(
    ("query", "content_type", "body", "reason"),
    [
        ({"kind": "mawb", "reference": "176-12345676"}, "text/csv", None, "check digit wrong"),
        ({"kind": "box", "reference": "1"}, "text/csv", None, "kind 'box' is not one of"),
        ({}, "text/csv", None, "say kind and reference"),
        ({"kind": "flight", "reference": "LH8400"}, "text/csv", None, "write FLIGHT/YYYY-MM-DD"),
        (MAWB, "application/octet-stream", None, "say format=csv or jsonl"),
        (MAWB, "text/csv", csv_body([f"{s10(1)},1"], "parcel,kg"), "no column 'tracking_id'"),
        ({"name": "manifest.csv"}, "text/csv", None, "not a manifest file name"),
    ],
)
def test_a_bad_header_is_refused_with_its_reason(
    client: FlaskClient, web_site: WebSite, query: dict, content_type: str, body: bytes | None,
    reason: str,
) -> None:  # fmt: skip
    body = body or csv_body([f"{s10(1)},1"])
    resp = client.post(URL, query_string=query, data=body, content_type=content_type, headers=OP)
    assert resp.status_code == 400 and reason in resp.json["error"], resp.json
    assert web_site.conn.execute("SELECT count(*) FROM manifests").fetchone()[0] == 0


def test_every_line_rejected_is_422_and_a_closed_manifest_409(
    client: FlaskClient, web_site: WebSite
) -> None:
    bad = csv_body(["RR123456784CN,1", f"{s10(1)},abc"])
    resp = client.post(URL, query_string=MAWB, data=bad, content_type="text/csv", headers=OP)
    assert resp.status_code == 422, resp.json
    got = resp.json
    assert got["error"] == (
        "manifest mawb:176-12345675: upload.csv: all 2 lines rejected, nothing imported"
    )
    assert (got["manifest"]["id"], got["lines"], got["rejected"]) == ("mawb:176-12345675", 2, 2)
    assert [r["field"] for r in got["rejects"]] == ["tracking_id", "declared_kg"]
    schema = yaml.safe_load(SPEC.read_text())["components"]["schemas"]["ManifestReport"]
    assert set(schema["required"]) <= set(got) <= {*schema["properties"], "error"}
    assert web_site.conn.execute("SELECT count(*) FROM manifests").fetchone()[0] == 0
    body = csv_body([f"{s10(1)},1.5"])
    assert client.post(URL, query_string=MAWB, data=body, content_type="text/csv",
                       headers=OP).status_code == 200  # fmt: skip
    closed = client.post(URL + "/mawb:176-12345675/close", json={"actor": "carol"}, headers=OP)
    assert closed.status_code == 200, closed.json
    for again in (body, csv_body([f"{s10(1)},1.5", f"{s10(2)},2"])):
        resp = client.post(URL, query_string=MAWB, data=again, content_type="text/csv",
                           headers=OP)  # fmt: skip
        assert resp.status_code == 409, resp.json
        assert resp.json["error"].startswith("manifest 'mawb:176-12345675' was closed at ")
        assert "by carol: no file may change its lines any more" in resp.json["error"]
    assert lines(web_site) == [(2, s10(1))]
    responses = yaml.safe_load(SPEC.read_text())["paths"][URL]["post"]["responses"]
    assert {"409", "422"} <= set(responses)


def test_a_file_over_max_file_mb_is_refused(client: FlaskClient, web_site: WebSite) -> None:
    big = csv_body(good_rows(16000), HEADER)
    assert len(big) > 1_100_000
    resp = client.post(URL, query_string=MAWB, data=big, content_type="text/csv", headers=OP)
    assert resp.status_code == 413
    assert resp.json == {"error": "the file is larger than manifests.max_file_mb (1 MB)"}
    just_over = big[:1_030_000]  # within the form allowance: refused while it is copied
    resp = client.post(URL, query_string=MAWB, data=just_over, content_type="text/csv",
                       headers=OP)  # fmt: skip
    assert resp.status_code == 413 and "max_file_mb" in resp.json["error"]
    boundary, form = encode_multipart({"file": FileStorage(io.BytesIO(big), "mawb_1.csv")})
    multipart = client.post(URL, data=form, headers=OP,
                            content_type=f"multipart/form-data; boundary={boundary}")  # fmt: skip
    assert multipart.status_code == 413
    assert web_site.conn.execute("SELECT count(*) FROM manifests").fetchone()[0] == 0


def _post(
    url: str, path: str, chunks: list[bytes], chunked: bool, content_type: str = "text/csv"
) -> tuple[int, Any]:
    """POST chunks to the real server (chunked, or with a Content-Length); return the answer."""
    conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
    headers = {"Content-Type": content_type, **OP}
    if not chunked:
        headers["Content-Length"] = str(sum(map(len, chunks)))
    conn.request("POST", path, body=iter(chunks), headers=headers, encode_chunked=chunked)
    resp = conn.getresponse()
    answer = (resp.status, json.loads(resp.read()))
    conn.close()
    return answer


def test_the_real_server_streams_uploads_and_bounds_them(web_site: WebSite) -> None:
    cfg = with_manifests(web_site.cfg, max_file_mb=1)
    body = csv_body(good_rows(6000), HEADER)  # about 0.5 MB, sent in 64 kB chunks
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    path = URL + "?kind=mawb&reference=176-12345675"
    with serving(cfg) as live:
        status, got = _post(live.url, path, chunks, chunked=True)
        assert status == 200, got
        assert (got["lines"], got["inserted"], got["bytes"]) == (6000, 6000, len(body))
        big = chunks * 3
        assert _post(live.url, path, big, chunked=True)[0] == 413
        status, got = _post(live.url, path, big, chunked=False)
        assert status == 413 and "max_file_mb (1 MB)" in got["error"]
        boundary, form = encode_multipart({"file": FileStorage(io.BytesIO(body * 3), "m.csv")})
        form_chunks = [form[i : i + 65536] for i in range(0, len(form), 65536)]
        multipart = f"multipart/form-data; boundary={boundary}"
        status, got = _post(live.url, path, form_chunks, chunked=True, content_type=multipart)
        assert status == 413 and "max_file_mb (1 MB)" in got["error"]
    assert len(lines(web_site)) == 6000
