"""The OpenAPI document: valid, warning-free, and covering API.md's contract."""

import pytest
import yaml
from django.core.management import call_command
from django.urls import Resolver404, resolve

# API.md's endpoints: method -> (success status, error statuses, codes that must be named).
ACCESS = (401, 503)
CONTRACT = {
    ("/api/auth/register", "post"): (201, (400, 409, 503), ("email_taken",)),
    ("/api/auth/login", "post"): (200, (400, 401, 429, 503), ("invalid_credentials", "throttled")),
    ("/api/auth/refresh", "post"): (200, (400, 401, 503), ("token_expired", "session_revoked", "refresh_reused")),
    ("/api/auth/logout", "post"): (204, ACCESS, ("not_authenticated", "token_expired", "session_revoked")),
    ("/api/auth/logout-all", "post"): (204, ACCESS, ("not_authenticated", "session_revoked")),
    ("/api/auth/profile", "get"): (200, ACCESS, ("not_authenticated", "token_expired")),
    ("/api/auth/profile", "patch"): (200, (400, *ACCESS), ("not_authenticated",)),
    ("/api/auth/profile", "put"): (200, (400, *ACCESS), ("not_authenticated",)),
    ("/api/auth/profile/avatar", "post"): (200, (400, 401), ("not_authenticated",)),
    ("/api/auth/profile/password", "put"): (200, (400, 401), ("not_authenticated",)),
    ("/api/auth/sessions", "get"): (200, (401,), ("not_authenticated",)),
    ("/api/auth/sessions/{id}", "delete"): (204, (401, 404), ("not_authenticated",)),
    ("/api/auth/revoke", "post"): (200, (400, 429, 503), ("invalid_request", "throttled", "auth_unavailable")),
    ("/api/auth/introspect", "post"): (200, (400, 401, 403, 429), ("insufficient_scope", "invalid_request")),
    ("/api/auth/health", "get"): (200, (503,), ()),
    ("/.well-known/jwks.json", "get"): (200, (), ()),
    ("/api/session/login", "post"): (200, (400, 401, 403), ("invalid_credentials",)),
    ("/api/session/logout", "post"): (204, (401, 403), ()),
}


@pytest.fixture(scope="module")
def document(tmp_path_factory, django_db_blocker):
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        # Fails on any warning: every view has serializers, names are unique.
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def _routed(path: str) -> bool:
    try:
        resolve(path.replace("{id}", "0"))
    except Resolver404:
        return False
    return True


@pytest.mark.parametrize(("path", "method"), list(CONTRACT))
def test_every_contract_endpoint_is_routed(path, method):
    assert _routed(path), f"{method.upper()} {path} of the contract has no route"


@pytest.mark.parametrize(("path", "method"), list(CONTRACT))
def test_every_contract_endpoint_is_documented(document, path, method):
    assert path in document["paths"], f"{path} is missing from the OpenAPI document"
    success, error_statuses, codes = CONTRACT[(path, method)]
    operation = document["paths"][path][method]
    documented = {int(status) for status in operation["responses"]}
    assert {success, *error_statuses} <= documented
    descriptions = " ".join(response.get("description", "") for response in operation["responses"].values())
    for code in codes:
        assert f"`{code}`" in descriptions, (path, method, code)


def test_errors_use_the_detail_code_shape(document):
    error = document["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"detail", "code"}
    login_401 = document["paths"]["/api/auth/login"]["post"]["responses"]["401"]
    assert login_401["content"]["application/json"]["schema"]["$ref"].endswith("/Error")


def test_cookie_mode_and_both_auth_transports_are_documented(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["accessCookie"]["in"] == "cookie"
    login = document["paths"]["/api/auth/login"]["post"]
    assert any(param["name"] == "X-Auth-Mode" for param in login["parameters"])


@pytest.mark.django_db
def test_the_schema_and_swagger_ui_are_served(api):
    schema = api.get("/api/schema/")
    assert schema.status_code == 200 and b"openapi" in schema.content
    docs = api.get("/api/docs/")
    assert docs.status_code == 200 and docs["Content-Type"].startswith("text/html")
    assert b"swagger" in docs.content.lower()
