"""The gateway's web UI: station board, station pages, parcel search, JSON API, metrics."""

import os
import secrets
import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from flask import Flask, Response, current_app, render_template, request
from werkzeug.exceptions import HTTPException

from dockscan.config import SiteConfig, SiteSection
from dockscan.errors import ConfigError, StoreError
from gateway.web import formatting
from gateway.web.commands import CommandPublisher
from gateway.web.db import Database
from gateway.web.summary import BoardCache

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass
class WebState:
    """Everything the request handlers share within one process."""

    cfg: SiteConfig
    db: Database
    zone: ZoneInfo
    board: BoardCache
    publisher: CommandPublisher
    streams: threading.BoundedSemaphore
    extra: dict[str, Any] = field(default_factory=dict)


def web() -> WebState:
    """Return the shared state of the running app."""
    return current_app.extensions["dockscan"]


def token_from_env(setting: str, env_name: str) -> str:
    """Read a token from the environment variable a setting names ('' if no name is set)."""
    if not env_name:
        return ""
    value = os.environ.get(env_name, "")
    if not value:
        raise ConfigError(
            "site config", f"gateway.{setting}", f"names ${env_name}, which is unset or empty"
        )
    return value


def create_app(cfg: SiteConfig | None = None, test_config: dict | None = None) -> Flask:
    """Build the Flask app for a site config; test_config overrides Flask config keys."""
    cfg = cfg or SiteConfig(site=SiteSection(id="site"))
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=secrets.token_bytes(32),
        DATABASE=cfg.gateway.database,
        ACCESS_TOKEN=token_from_env("access_token_env", cfg.gateway.access_token_env),
        OPERATOR_TOKEN=token_from_env("operator_token_env", cfg.gateway.operator_token_env),
        BOARD_CACHE_MS=5000,
        SSE_POLL_S=1.0,
        SSE_MAX_S=25.0,
        SSE_MAX_STREAMS=8,
        PAGE_THREADS=4,
        HEALTH_MAX_HEARTBEAT_S=10.0,
        STORE_DOWN_REFRESH_S=5,
        COMMAND_TIMEOUT_S=5.0,
        PAGE_SIZE=50,
        CSV_MAX_ROWS=100_000,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
    )
    if test_config:
        app.config.update(test_config)
    app.extensions["dockscan"] = WebState(
        cfg=cfg,
        db=Database(app.config["DATABASE"], password=cfg.gateway.database_password()),
        zone=ZoneInfo(cfg.site.timezone),
        board=BoardCache(ZoneInfo(cfg.site.timezone), app.config["BOARD_CACHE_MS"]),
        publisher=CommandPublisher(cfg, app.config["COMMAND_TIMEOUT_S"]),
        streams=threading.BoundedSemaphore(app.config["SSE_MAX_STREAMS"]),
    )
    _register(app)
    return app


def _register(app: Flask) -> None:
    """Attach blueprints, template filters, security headers and error pages."""
    from gateway.web import (
        api,
        auth,
        board,
        clearing,
        clearing_api,
        events,
        holds_api,
        hub_pages,
        manifests,
        metrics,
        parcels,
        stations,
    )

    for module in (auth, board, stations, parcels, api, manifests, hub_pages, metrics, events):
        app.register_blueprint(module.bp)
    app.register_blueprint(holds_api.bp)
    app.register_blueprint(clearing.bp)
    app.register_blueprint(clearing_api.bp)
    auth.init_app(app)

    zone = app.extensions["dockscan"].zone
    app.jinja_env.filters.update(
        local=lambda ms, fmt="%Y-%m-%d %H:%M:%S": formatting.local_time(ms, zone, fmt),
        utc=formatting.utc_iso,
        age=formatting.age,
        duration=lambda ms: formatting.age(0, int(ms)),
        visible=formatting.visible,
        percent=formatting.percent,
    )
    app.jinja_env.globals.update(site=app.extensions["dockscan"].cfg.site, tz=str(zone))

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        return resp

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if exc.code is None or exc.code < 400:
            return exc
        return _error(exc.code, exc.description or exc.name)

    @app.errorhandler(StoreError)
    @app.errorhandler(sqlite3.Error)
    @app.errorhandler(psycopg.OperationalError)
    def _store_down(exc: Exception) -> tuple[Any, int]:
        app.logger.warning("store unavailable: %s", exc)
        return _error(503, f"the gateway database is not available: {exc}")


def _error(status: int, message: str) -> tuple[Any, int]:
    """Answer an error as JSON for API clients and as a page for browsers."""
    machine = request.path.startswith(("/api/", "/metrics", "/events", "/healthz"))
    if machine or request.accept_mimetypes.best == "application/json":
        return {"error": message}, status
    return render_template("error.html", status=status, message=message), status
