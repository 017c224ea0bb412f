"""Access control: viewer and operator roles from a Bearer token or a login cookie."""

import functools
import hmac
import logging
import secrets
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

logger = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)
PUBLIC_ENDPOINTS = {"auth.login", "static", "metrics.healthz"}


def _matches(given: str, expected: str) -> bool:
    """Compare a presented token with a configured one in constant time."""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def role_for_token(token: str) -> str | None:
    """Return 'operator' or 'viewer' for a valid token, else None."""
    if _matches(token, current_app.config["OPERATOR_TOKEN"]):
        return "operator"
    if _matches(token, current_app.config["ACCESS_TOKEN"]):
        return "viewer"
    return None


def _wants_json() -> bool:
    """Return whether the client is an API or monitoring client rather than a browser page."""
    return request.path.startswith(("/api/", "/metrics", "/events"))


def _resolve_role() -> Any:
    """Set g.role for this request, or answer 401 / redirect to the login form."""
    g.role, g.via_bearer = None, False
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        g.role, g.via_bearer = role_for_token(header[7:].strip()), True
        if g.role is None:
            logger.warning("rejected a bearer token from %s", request.remote_addr)
            return _unauthorised("invalid token")
    else:
        g.role = session.get("role")
        if g.role is None and not current_app.config["ACCESS_TOKEN"]:
            g.role = "viewer"
    if g.role is None and request.endpoint not in PUBLIC_ENDPOINTS:
        if _wants_json() or request.method != "GET":
            return _unauthorised("authentication required")
        return redirect(url_for("auth.login", next=request.full_path))
    return None


def _unauthorised(message: str) -> tuple[dict, int, dict]:
    """Answer 401 with a Bearer challenge."""
    return {"error": message}, 401, {"WWW-Authenticate": 'Bearer realm="dockscan"'}


def who() -> str:
    """Return who acts from the UI: the name given at log-in, else the client's address."""
    name = str(session.get("name", "")).strip()
    return (name or f"ui:{request.remote_addr}")[:64]


def csrf_token() -> str:
    """Return this session's form token, creating it on first use."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def check_csrf() -> None:
    """Reject a cookie-authenticated form POST whose form token does not match the session."""
    if g.via_bearer:
        return
    sent = request.form.get("csrf", "")
    if not sent or not hmac.compare_digest(sent.encode(), session.get("csrf", "").encode()):
        abort(400, "the form expired or did not come from this site; reload the page")


def operator_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Allow the view only for the operator role (and a valid form token for cookie sessions)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.role != "operator":
            if not current_app.config["OPERATOR_TOKEN"]:
                abort(403, "commands are disabled: set gateway.operator_token_env")
            abort(403, "this needs the operator role: log in with the operator token")
        check_csrf()
        return view(*args, **kwargs)

    return wrapper


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Show the login form, or check the token and set the session cookie."""
    error = ""
    target = request.values.get("next", "")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("board.index")
    if request.method == "POST":
        role = role_for_token(request.form.get("token", ""))
        if role:
            session.clear()
            session["role"] = role
            name = " ".join(request.form.get("name", "").split())[:64]
            if name.isprintable() and name:
                session["name"] = name
            return redirect(target)
        logger.warning("failed login from %s", request.remote_addr)
        error = "That token is not valid."
    configured = bool(current_app.config["ACCESS_TOKEN"] or current_app.config["OPERATOR_TOKEN"])
    status = 401 if error else 200
    return render_template("login.html", error=error, next=target, configured=configured), status


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    """Forget the session."""
    check_csrf()
    session.clear()
    return redirect(url_for("board.index"))


def init_app(app: Flask) -> None:
    """Install the role check and the template helpers."""
    app.before_request(_resolve_role)
    app.jinja_env.globals.update(csrf_token=csrf_token, role=lambda: g.get("role"))
