"""Oversized tokens on the RFC endpoints, token id quality, and a duplicate jti on rotation.

SECURITY.md JWT-17 (64 KB and 1 MB tokens in the bodies of /revoke, /introspect
and /refresh), ROT-18 (ids: unique, 128 bits, not from the `random` module) and
DB-06 (a forced duplicate jti insert is a clean 503, with nothing half-written).
"""

import random
import re
from urllib.parse import urlencode

import pytest

from tests.helpers import bearer, claims, error_code, login, make_user, resign
from tokens import models, services
from tokens.models import RefreshToken

SIZES = {"64KB": 64 * 1024, "1MB": 1024 * 1024}
FORMATS = ["json", "form"]


def huge(token: str, size: int) -> str:
    """``token`` re-signed with the real key and padded to about ``size`` bytes: only its length is wrong."""
    return resign(token, pad="x" * (size * 3 // 4))


def post(api, path: str, token: str, fmt: str, **extra):
    if fmt == "form":
        return api.post(path, urlencode({"token": token}), content_type="application/x-www-form-urlencoded", **extra)
    return api.post(path, {"token": token}, format="json", **extra)


def assert_invalid_request(response):
    assert response.status_code == 400, response.content[:300]
    assert error_code(response) == "invalid_request"


# --- JWT-17: huge tokens in request bodies ----------------------------------------


@pytest.fixture
def staff_auth(db):
    return bearer(services.issue_session(make_user("staff@example.com", is_staff=True)).access)


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_a_huge_token_at_revoke_is_200_or_invalid_request(api, session_tokens, kind, size, fmt):
    response = post(api, "/api/auth/revoke", huge(session_tokens[kind], size), fmt)
    if response.status_code != 200:
        assert_invalid_request(response)


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_a_huge_token_at_introspect_is_exactly_inactive_or_invalid_request(
    api, session_tokens, staff_auth, kind, size, fmt
):
    # The padded token is validly signed and its session is live: only its size may make it inactive.
    assert post(api, "/api/auth/introspect", session_tokens[kind], fmt, **staff_auth).json()["active"] is True
    response = post(api, "/api/auth/introspect", huge(session_tokens[kind], size), fmt, **staff_auth)
    if response.status_code == 200:
        assert response.json() == {"active": False}
    else:
        assert_invalid_request(response)


@pytest.mark.django_db
@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_a_huge_refresh_token_at_refresh_is_refused_and_rotates_nothing(api, session_tokens, size):
    response = api.post("/api/auth/refresh", {"refresh": huge(session_tokens["refresh"], size)}, format="json")
    assert response.status_code in (400, 401), response.content[:300]
    if response.status_code == 401:
        assert error_code(response) == "token_invalid"
    assert RefreshToken.objects.get().used_at is None


# --- ROT-18: token ids -------------------------------------------------------------


def test_ten_thousand_token_ids_are_unique_128_bit_hex():
    ids = [models.new_token_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", token_id) for token_id in ids)


def test_token_ids_do_not_follow_the_random_modules_seed():
    def after_seed():
        random.seed(1234)
        return [models.new_token_id() for _ in range(3)]

    assert after_seed() != after_seed()


@pytest.mark.django_db
def test_issued_tokens_use_such_ids_for_jti_and_session(user):
    pair = services.issue_session(user)
    for token in (pair.access, pair.refresh):
        assert re.fullmatch(r"[0-9a-f]{32}", claims(token)["jti"])
    assert re.fullmatch(r"[0-9a-f]{32}", claims(pair.refresh)["sid"])


# --- DB-06: a duplicate jti on rotation ------------------------------------------


@pytest.fixture
def duplicate_jti(monkeypatch):
    """Make every new refresh-token id ``jti``, wherever the successor row takes it from."""

    def apply(jti: str) -> None:
        field = RefreshToken._meta.get_field("jti")
        # Field.get_default caches the callable (Field._get_default), so patch that as well as the names.
        monkeypatch.setattr(field, "_get_default", lambda: jti)
        monkeypatch.setattr(models, "new_token_id", lambda: jti)
        monkeypatch.setattr(services, "new_token_id", lambda: jti, raising=False)

    return apply


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_jti_on_rotation_is_503_and_leaves_the_refresh_token_usable(api, duplicate_jti, monkeypatch):
    tokens = login(api, make_user("dup@example.com").email)
    duplicate_jti(claims(tokens["refresh"])["jti"])

    response = api.post("/api/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 503, response.content
    assert error_code(response) == "auth_unavailable"
    assert int(response["Retry-After"]) > 0
    assert "IntegrityError" not in response.content.decode() and "UNIQUE" not in response.content.decode()
    row = RefreshToken.objects.get()
    assert row.used_at is None and not row.is_revoked, "the compare-and-set rolled back with the failed insert"
    assert api.get("/api/auth/whoami", **bearer(tokens["access"])).status_code == 200

    monkeypatch.undo()
    retry = api.post("/api/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert retry.status_code == 200, retry.content
    assert claims(retry.json()["refresh"])["jti"] != claims(tokens["refresh"])["jti"]
    assert api.get("/api/auth/whoami", **bearer(retry.json()["access"])).status_code == 200
