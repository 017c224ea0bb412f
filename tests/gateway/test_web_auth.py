"""Viewer and operator roles: Bearer tokens, the login cookie, CSRF, and token configuration."""

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from dockscan.errors import ConfigError
from gateway.web import create_app
from gateway.web.server import shutdown
from tests.gateway.conftest import OPERATOR, VIEWER, WebSite, site_config


@pytest.fixture
def locked_app(web_site: WebSite) -> Iterator[Flask]:
    """The app with both a viewer and an operator token configured."""
    app = create_app(web_site.cfg, {"ACCESS_TOKEN": VIEWER, "OPERATOR_TOKEN": OPERATOR})
    yield app
    shutdown(app)


def test_anonymous_is_refused(locked_app: Flask) -> None:
    client = locked_app.test_client()
    resp = client.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    resp = client.get("/api/stations")
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics").status_code == 401
    assert client.get("/healthz").status_code in (200, 503)  # the probe stays open
    with client.get("/static/app.css") as css:
        assert css.status_code == 200


def test_bearer_tokens(locked_app: Flask) -> None:
    client = locked_app.test_client()
    ok = client.get("/api/stations", headers={"Authorization": f"Bearer {VIEWER}"})
    assert ok.status_code == 200
    bad = client.get("/api/stations", headers={"Authorization": f"Bearer {VIEWER}x"})
    assert bad.status_code == 401
    viewer_cmd = client.post(
        "/api/stations/st-a1/commands/tare", headers={"Authorization": f"Bearer {VIEWER}"}
    )
    assert viewer_cmd.status_code == 403 and "operator" in viewer_cmd.json["error"]


def test_login_form_sets_a_session(locked_app: Flask) -> None:
    client = locked_app.test_client()
    resp = client.post("/login", data={"token": "wrong"})
    assert resp.status_code == 401 and "not valid" in resp.get_data(as_text=True)
    resp = client.post("/login", data={"token": VIEWER, "next": "/parcels"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/parcels"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.get("/").status_code == 200
    resp = client.post("/login", data={"token": VIEWER, "next": "//evil.example/"})
    assert resp.headers["Location"] == "/"  # no open redirect


def test_cookie_commands_need_the_form_token(locked_app: Flask) -> None:
    client = locked_app.test_client()
    client.post("/login", data={"token": OPERATOR})
    resp = client.post("/api/stations/st-a1/commands/tare")  # e.g. a forged cross-site form
    assert resp.status_code == 400 and "form" in resp.json["error"]


def test_commands_disabled_without_operator_token(web_site: WebSite) -> None:
    app = create_app(web_site.cfg, {"TESTING": True})
    resp = app.test_client().post("/api/stations/st-a1/commands/zero")
    assert resp.status_code == 403 and "operator_token_env" in resp.json["error"]
    shutdown(app)


def test_token_env_must_be_set_when_named(
    web_site: WebSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = site_config(web_site.target, extra={"access_token_env": "DOCKSCAN_TEST_UI_TOKEN"})
    monkeypatch.delenv("DOCKSCAN_TEST_UI_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=r"gateway\.access_token_env.*DOCKSCAN_TEST_UI_TOKEN"):
        create_app(cfg)
    monkeypatch.setenv("DOCKSCAN_TEST_UI_TOKEN", "s3cret-token-value")
    app = create_app(cfg)
    client: FlaskClient = app.test_client()
    assert client.get("/api/stations").status_code == 401
    headers = {"Authorization": "Bearer s3cret-token-value"}
    assert client.get("/api/stations", headers=headers).status_code == 200
    shutdown(app)


def test_pages_forbid_inline_script(web_client: FlaskClient) -> None:
    resp = web_client.get("/")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    html = resp.get_data(as_text=True)
    assert "<script>" not in html and '<script src="/static/board.js">' in html
