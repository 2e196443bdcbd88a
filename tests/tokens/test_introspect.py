"""RFC 7662 POST /api/auth/introspect (docs/security.md STD-08..12, BRR-04)."""

import base64
from datetime import timedelta

import jwt as pyjwt
import pytest
import time_machine
from django.utils import timezone

from tests.helpers import bearer, claims, error_code, login, make_user, resign

pytestmark = pytest.mark.django_db

INTROSPECT = "/api/auth/introspect"
INACTIVE = {"active": False}


@pytest.fixture
def staff(db):
    return make_user("staff@example.com", is_staff=True)


@pytest.fixture
def staff_auth(api, staff):
    return bearer(login(api, staff.email)["access"])


def basic(client_id: str, secret: str) -> dict:
    encoded = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {encoded}"}


def introspect(api, token, auth, fmt="json"):
    return api.post(INTROSPECT, {"token": token}, format=fmt, **auth)


@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_a_live_token_is_active_with_its_claims(api, session_tokens, staff_auth, kind):
    response = introspect(api, session_tokens[kind], staff_auth)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    body, token_claims = response.json(), claims(session_tokens[kind])
    assert body["active"] is True
    assert body["token_type"] == kind
    assert (
        body["sub"] == token_claims["user_id"] == str(body["user_id"])
    )  # sub a string (RFC 7662), user_id the profile's number
    assert type(body["user_id"]) is int
    assert (body["jti"], body["sid"]) == (token_claims["jti"], token_claims["sid"])
    assert type(body["exp"]) is int and type(body["iat"]) is int
    assert body["exp"] == token_claims["exp"]


def test_form_encoded_requests_are_accepted(api, session_tokens, staff_auth):
    response = api.post(
        INTROSPECT,
        f"token={session_tokens['access']}",
        content_type="application/x-www-form-urlencoded",
        **staff_auth,
    )
    assert response.json()["active"] is True


def test_anything_not_live_is_exactly_inactive(api, user, session_tokens, staff_auth):
    expired_token = login(api, user.email)["access"]
    used = login(api, user.email)
    api.post("/api/auth/refresh", {"refresh": used["refresh"]}, format="json")
    revoked = login(api, user.email)
    api.post("/api/auth/logout", **bearer(revoked["access"]))
    other_key = pyjwt.encode(claims(session_tokens["access"]), "another-key-" * 4, algorithm="HS256")
    candidates = [
        "garbage",
        "",
        "a.b.c",
        session_tokens["access"][:-4] + "AAAA",
        other_key,
        resign(session_tokens["access"], token_type="refresh"),
        revoked["access"],
        revoked["refresh"],
    ]
    for token in candidates:
        if not token:
            continue
        response = introspect(api, token, staff_auth)
        assert response.status_code == 200 and response.json() == INACTIVE, token
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        # A fresh staff token: the old one expired too.
        fresh = bearer(login(api, "staff@example.com")["access"])
        assert introspect(api, expired_token, fresh).json() == INACTIVE


def test_the_verdict_matches_the_authentication_class(api, user, staff_auth):
    tokens = login(api, user.email)
    assert api.get("/api/auth/whoami", **bearer(tokens["access"])).status_code == 200
    assert introspect(api, tokens["access"], staff_auth).json()["active"] is True
    api.post("/api/auth/logout-all", **bearer(tokens["access"]))
    assert api.get("/api/auth/whoami", **bearer(tokens["access"])).status_code == 401
    assert introspect(api, tokens["access"], staff_auth).json() == INACTIVE
    assert introspect(api, tokens["refresh"], staff_auth).json() == INACTIVE


def test_without_credentials_is_401(api, session_tokens):
    response = introspect(api, session_tokens["access"], {})
    assert response.status_code == 401 and error_code(response) == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="flowauth"'


def test_a_non_staff_user_is_403_insufficient_scope(api, session_tokens):
    response = introspect(api, session_tokens["access"], bearer(session_tokens["access"]))
    assert response.status_code == 403 and error_code(response) == "insufficient_scope"
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]


def test_service_credentials_over_http_basic(api, session_tokens, settings):
    settings.INTROSPECTION_CLIENTS = {"gateway": "s3cret"}
    assert introspect(api, session_tokens["access"], basic("gateway", "s3cret")).json()["active"] is True
    for wrong in (basic("gateway", "nope"), basic("other", "s3cret"), {"HTTP_AUTHORIZATION": "Basic !!"}):
        response = introspect(api, session_tokens["access"], wrong)
        assert response.status_code == 401 and error_code(response) == "invalid_client"


def test_a_missing_token_is_invalid_request(api, staff_auth):
    response = api.post(INTROSPECT, {}, format="json", **staff_auth)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_introspection_is_throttled(api, session_tokens, staff_auth, settings):
    settings.FLOWAUTH_THROTTLE_RATES = {**settings.FLOWAUTH_THROTTLE_RATES, "introspect": "3/min"}
    statuses = [introspect(api, "x", staff_auth).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


def test_redis_down_is_503_not_inactive(api, session_tokens, settings, token_settings):
    settings.INTROSPECTION_CLIENTS = {"gateway": "s3cret"}
    token_settings(REDIS_URL="redis://127.0.0.1:1/0", REDIS_SOCKET_TIMEOUT=0.5)
    response = introspect(api, session_tokens["access"], basic("gateway", "s3cret"))
    assert response.status_code == 503 and error_code(response) == "auth_unavailable"
