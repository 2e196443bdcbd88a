"""Hostile request bodies on every endpoint that parses one (docs/security.md FZ-02, FZ-07).

Each request carries whatever credentials the endpoint asks for (a bearer token,
staff credentials for /introspect, a CSRF token for /api/session/login), so the
answer comes from parsing the body, never from an earlier 401/403: every test
asserts the 4xx that parsing gives, and that nothing answers 5xx.
"""

import json
from urllib.parse import urlencode

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import User
from tests.helpers import PASSWORD, bearer, error_code, make_user
from tokens import services

pytestmark = pytest.mark.django_db

# name: (method, path, credentials the endpoint needs)
ENDPOINTS = {
    "login": ("post", "/api/auth/login", None),
    "register": ("post", "/api/auth/register", None),
    "refresh": ("post", "/api/auth/refresh", None),
    "logout": ("post", "/api/auth/logout", "user"),
    "revoke": ("post", "/api/auth/revoke", None),
    "introspect": ("post", "/api/auth/introspect", "staff"),
    "session_login": ("post", "/api/session/login", "csrf"),
    "profile": ("patch", "/api/auth/profile", "user"),
    "password": ("put", "/api/auth/profile/password", "user"),
}
# Where an empty JSON object is a valid request (PATCH profile changes nothing, logout ends the session).
NEEDS_FIELDS = [name for name in ENDPOINTS if name not in ("profile", "logout")]
STAFF_EMAIL = "staff@example.com"
DEPTH = 100_000
NESTED = {
    "arrays": "[" * DEPTH + "]" * DEPTH,
    "objects": '{"a":' * DEPTH + "1" + "}" * DEPTH,
    "inside_a_field": '{"email": ' + "[" * DEPTH + "]" * DEPTH + "}",
}
MALFORMED = {
    "truncated": '{"email": "alice@example.com", "password": ',
    "single_quotes": "{'email': 'alice@example.com'}",
    "trailing_comma": '{"email": "alice@example.com",}',
    "nan": '{"email": NaN}',  # STRICT_JSON
    "not_utf8": b'{"email": "\xff\xfe"}',
    "two_documents": '{"email": "a"} {"email": "b"}',
}


def credentials(client, kind: str | None, user) -> dict:
    if kind == "user":
        return bearer(services.issue_session(user).access)
    if kind == "staff":
        staff = User.objects.filter(email=STAFF_EMAIL).first() or make_user(STAFF_EMAIL, is_staff=True)
        return bearer(services.issue_session(staff).access)
    if kind == "csrf":
        return {"HTTP_X_CSRFTOKEN": client.get("/api/auth/csrf").json()["csrf_token"]}
    return {}


@pytest.fixture
def send(user):
    """send(endpoint, body, content_type): one request, with the credentials that endpoint needs."""

    def send_(name: str, body, content_type: str = "application/json"):
        method, path, kind = ENDPOINTS[name]
        client = APIClient(enforce_csrf_checks=True)
        return getattr(client, method)(path, body, content_type=content_type, **credentials(client, kind, user))

    return send_


def assert_parse_error(response, status=400):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    assert "Traceback" not in response.content.decode(errors="replace")


@pytest.mark.parametrize("shape", NESTED)
@pytest.mark.parametrize("name", ENDPOINTS)
def test_json_nested_100000_levels_deep_is_400_never_500(send, name, shape):
    response = send(name, NESTED[shape])
    assert_parse_error(response)
    assert error_code(response) == "parse_error"  # the parser refused it, not a serializer


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("name", ENDPOINTS)
def test_malformed_json_is_400_parse_error(send, name, body):
    response = send(name, body)
    assert_parse_error(response)
    assert error_code(response) == "parse_error"


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/octet-stream"])
@pytest.mark.parametrize("name", ENDPOINTS)
def test_an_unsupported_content_type_is_415(send, name, content_type):
    response = send(name, "<token>x</token>", content_type=content_type)
    assert_parse_error(response, status=415)
    assert error_code(response) == "unsupported_media_type"


def test_an_empty_login_body_is_400_naming_the_missing_fields(send):
    response = send("login", "")
    assert_parse_error(response)
    assert set(response.json()) == {"email", "password"}


@pytest.mark.parametrize("body", ["", "{}"], ids=["no_bytes", "empty_object"])
@pytest.mark.parametrize("name", NEEDS_FIELDS)
def test_an_empty_body_is_400_wherever_fields_are_required(send, name, body):
    assert_parse_error(send(name, body))


def oversize(fields: dict) -> dict:
    """``fields`` plus padding, so the body is just past DATA_UPLOAD_MAX_MEMORY_SIZE."""
    return {**fields, "padding": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}


@pytest.mark.parametrize("name", ENDPOINTS)
def test_a_json_body_over_the_upload_limit_is_refused(send, name, user):
    # Otherwise valid: only the size may be the reason for the refusal.
    body = oversize({"email": user.email, "password": PASSWORD, "refresh": "x", "token": "x"})
    response = send(name, json.dumps(body))
    assert response.status_code in (400, 413), (response.status_code, response.content[:300])


def oversize_form(user) -> str:
    return urlencode(oversize({"email": user.email, "password": PASSWORD, "token": "x"}))


@pytest.mark.parametrize("name", ["login", "revoke", "introspect"])
def test_a_form_body_over_the_upload_limit_is_refused(send, name, user):
    response = send(name, oversize_form(user), content_type="application/x-www-form-urlencoded")
    assert response.status_code in (400, 413), (response.status_code, response.content[:300])


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_an_oversize_body_is_refused_in_the_api_error_shape(send, user, content_type):
    # docs/api.md "Conventions": errors are DRF's {"detail", "code"} JSON, whatever refused the request.
    body = json.dumps(oversize({"email": user.email})) if content_type == "application/json" else oversize_form(user)
    response = send("login", body, content_type=content_type)
    assert response.status_code in (400, 413)
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    assert set(response.json()) == {"detail", "code"}
