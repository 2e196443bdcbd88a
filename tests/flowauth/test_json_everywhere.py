"""Every path, every method, every JSON type as the body: a 4xx in the contract's shape, never a 5xx.

The paths come from the URLconf itself, so a new endpoint is swept without
being listed here. Each request carries a valid bearer token, so the answer
comes from what the endpoint does with the body, not from a 401 first.
"""

import json

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from tests.helpers import bearer
from tokens import services

pytestmark = pytest.mark.django_db

JSON_TYPES = {
    "null": "null",
    "number": "1",
    "float": "-0.5e3",
    "string": '"x"',
    "array": "[]",
    "array_of_objects": '[{"refresh": "x"}]',
    "true": "true",
    "false": "false",
}
BODY_METHODS = ("post", "put", "patch", "delete")
ALL_METHODS = ("get", "head", "options", *BODY_METHODS)
SAMPLE_ARGUMENTS = {"id": "0" * 32, "path": "avatars/1/missing.png"}


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def _concrete(route: str) -> str:
    path = route.removeprefix("^").removesuffix("$")
    for name, value in SAMPLE_ARGUMENTS.items():
        path = path.replace(f"<str:{name}>", value).replace(f"(?P<{name}>.*)", value)
    return "/" + path


PATHS = sorted(_concrete(route) for route in _walk(get_resolver().url_patterns) if not route.startswith("admin/"))


def test_the_sweep_covers_every_api_path():
    assert "/api/auth/refresh" in PATHS and "/api/auth/sessions/" + "0" * 32 in PATHS
    assert all("<" not in path and "(" not in path for path in PATHS), PATHS


def assert_contract_error(response, path):
    assert response.status_code < 500, (path, response.status_code, response.content[:300])
    if response.status_code >= 400 and response.content:
        assert response["Content-Type"].startswith("application/json"), (path, response.content[:200])
        body = response.json()
        assert isinstance(body, dict) and body, body


@pytest.fixture
def client(user):
    api = APIClient()
    api.credentials(**bearer(services.issue_session(user).access))
    return api


@pytest.mark.parametrize("path", PATHS)
def test_a_body_that_is_not_a_json_object_is_never_a_5xx(client, path):
    for method in BODY_METHODS:
        for kind, body in JSON_TYPES.items():
            response = getattr(client, method)(path, body, content_type="application/json")
            assert_contract_error(response, f"{method} {path} {kind}")


BODY_ENDPOINTS = [
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/refresh"),
    ("post", "/api/auth/logout"),
    ("post", "/api/auth/revoke"),
    ("post", "/api/auth/introspect"),
    ("patch", "/api/auth/profile"),
    ("put", "/api/auth/profile"),
    ("put", "/api/auth/profile/password"),
]


@pytest.mark.parametrize("method, path", BODY_ENDPOINTS)
def test_a_json_body_that_is_not_an_object_is_a_400_parse_error(client, user, method, path):
    if path == "/api/auth/introspect":
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    for kind, body in JSON_TYPES.items():
        response = getattr(client, method)(path, body, content_type="application/json")
        assert response.status_code == 400, (kind, response.content)
        assert response.json() == {"detail": "JSON parse error - the body must be a JSON object", "code": "parse_error"}


def test_a_list_body_at_refresh_is_a_400_not_a_type_error():
    response = APIClient().post("/api/auth/refresh", json.dumps([{"refresh": "x"}]), content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (400, "parse_error")


@pytest.mark.parametrize("path", PATHS)
def test_every_method_on_every_path_answers_in_the_contract_shape(client, path):
    for method in ALL_METHODS:
        assert_contract_error(getattr(client, method)(path), f"{method} {path}")
    response = client.generic("TRACE", path)
    assert response.status_code in (401, 403, 404, 405), (path, response.status_code)


UNKNOWN = [
    "/api/nope",
    "/api/auth/login/",
    "/api/auth/sessions/not-a-session",
    "/api/auth/../etc/passwd",
    "/media/avatars/1/none.png",
    "/media/../flowauth/settings.py",
    "/api/auth/%ff",
]


@pytest.mark.parametrize("path", UNKNOWN)
def test_unknown_paths_under_the_api_are_json_404s(client, path):
    for method in ("get", "post", "delete"):
        response = getattr(client, method)(path)
        assert response.status_code in (404, 405), (path, response.status_code)
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["code"] in ("not_found", "method_not_allowed")


@pytest.mark.parametrize("method", ["post", "put", "delete", "trace"])
def test_metrics_answers_everything_but_a_scrape_with_a_json_404(method):
    response = getattr(APIClient(), method)("/metrics")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


@pytest.mark.parametrize("path", ["/api/docs", "/api/schema"])
def test_a_slashless_post_is_a_json_404_not_a_redirect_or_a_500(path, settings):
    for debug in (False, True):
        settings.DEBUG = debug
        response = APIClient().post(path, {"password": "hunter2-secret"}, format="json")
        assert response.status_code == 404, (debug, response.status_code)
        assert response.json()["code"] == "not_found"
        assert b"hunter2" not in response.content


def test_a_slashless_get_still_redirects_to_the_docs():
    response = APIClient().get("/api/docs")
    assert response.status_code == 301 and response["Location"] == "/api/docs/"


@pytest.mark.parametrize("path", ["/api/auth/profile", "/api/auth/sessions", "/api/auth/whoami"])
def test_personal_data_is_never_cached(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


def test_the_jwks_keeps_its_public_cache_lifetime(client):
    assert client.get("/.well-known/jwks.json")["Cache-Control"].startswith("public, max-age=")
