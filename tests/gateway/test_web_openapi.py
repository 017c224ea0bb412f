"""docs/openapi.yaml matches the routes the app serves and the fields it returns."""

import re
from pathlib import Path

import yaml
from flask import Flask
from flask.testing import FlaskClient

from gateway.lease import Lease
from tests.gateway.conftest import WebSite

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
DOCUMENTED_PREFIXES = ("/api/", "/metrics", "/healthz")
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def _spec() -> dict:
    """Load the OpenAPI document."""
    return yaml.safe_load(SPEC.read_text())


def test_spec_paths_match_the_routes(web_app: Flask) -> None:
    served = set()
    for rule in web_app.url_map.iter_rules():
        if rule.rule.startswith(DOCUMENTED_PREFIXES):
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            served |= {(path, m.lower()) for m in rule.methods if m.lower() in HTTP_METHODS}
    documented = {
        (path, method)
        for path, item in _spec()["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    assert documented == served


def test_path_parameters_are_declared() -> None:
    spec = _spec()
    shared = spec["components"]["parameters"]
    for path, item in spec["paths"].items():
        for op in item.values():
            names = {
                shared[p["$ref"].rsplit("/", 1)[1]]["name"] if "$ref" in p else p["name"]
                for p in op.get("parameters", [])
            }
            assert set(re.findall(r"\{([a-z_]+)\}", path)) <= names, path


def test_required_fields_are_in_real_responses(web_client: FlaskClient, web_site: WebSite) -> None:
    schemas = _spec()["components"]["schemas"]
    for station in web_client.get("/api/stations").json:
        assert set(schemas["Station"]["required"]) <= set(station)
        assert set(station) <= set(schemas["Station"]["properties"])
    page = web_client.get("/api/parcels?limit=2").json
    for parcel in page["items"]:
        assert (
            set(schemas["Parcel"]["required"])
            <= set(parcel)
            <= set(schemas["Parcel"]["properties"])
        )
    device = web_client.get("/api/stations/st-a2").json["devices"][0]
    assert set(schemas["Device"]["required"]) == set(device)
    health = web_client.get("/healthz").json
    assert set(schemas["Health"]["required"]) == set(health)
    assert set(schemas["Health"]["properties"]["checks"]["required"]) == set(health["checks"])
    site = web_client.get("/api/site").json
    assert set(schemas["Site"]["required"]) == set(site) and site["lease"] is None
    gateways = [*health["gateways"].values(), *site["gateways"].values()]
    assert len(gateways) == 2
    for gateway in gateways:
        assert set(schemas["GatewayHealth"]["required"]) == set(gateway)
    assert Lease("gw-2").renew(web_site.conn)
    lease = web_client.get("/api/site").json["lease"]
    assert set(schemas["Site"]["properties"]["lease"]["required"]) == set(lease)
