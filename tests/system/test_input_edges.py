"""Inputs at the edges: NUL bytes, mass assignment, malleable signatures, no default accounts.

docs/security.md FZ-03, FZ-11, JWT-21, BF-17.
"""

import base64

import pytest

from accounts.models import User
from tests import signing
from tests.helpers import PASSWORD, bearer, error_code, login

pytestmark = pytest.mark.django_db

# The order of the P-256 group: (r, s) and (r, n - s) are both valid ECDSA signatures.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@pytest.mark.parametrize("field", ["email", "username", "password"])
def test_a_nul_byte_in_a_registration_field_is_a_400_field_error(api, field):
    body = {"email": "nul@example.com", "username": "nul", "password": "a long enough passphrase"}
    body[field] = body[field][:3] + "\x00" + body[field][3:]
    response = api.post("/api/auth/register", body, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not User.objects.exists()


@pytest.mark.parametrize("field", ["email", "password", "device_name"])
def test_a_nul_byte_at_login_is_a_400_never_a_database_error(api, user, field):
    body = {"email": user.email, "password": PASSWORD, "device_name": "phone"}
    body[field] = body[field] + "\x00"
    response = api.post("/api/auth/login", body, format="json")
    assert response.status_code == 400 and field in response.json()


def test_profile_updates_cannot_touch_privileges_or_identity(api, user):
    access = login(api, user.email)["access"]
    forged = {
        "is_staff": True,
        "is_superuser": True,
        "is_active": False,
        "id": 999,
        "date_joined": "2000-01-01T00:00:00Z",
        "email": "mallory@example.com",
        "first_name": "Alice",
    }
    response = api.patch("/api/auth/profile", forged, format="json", **bearer(access))
    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.is_staff, user.is_superuser, user.is_active, user.pk) == (False, False, True, response.json()["id"])
    assert user.first_name == "Alice" and user.date_joined.year != 2000
    assert api.get("/api/auth/whoami", **bearer(access)).status_code == 200


def _malleate(token: str) -> str:
    """The same ES256 signature rewritten from (r, s) to (r, n - s): it still verifies."""
    head, body, signature = token.split(".")
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    twin = r.to_bytes(32, "big") + (P256_ORDER - s).to_bytes(32, "big")
    return f"{head}.{body}.{base64.urlsafe_b64encode(twin).rstrip(b'=').decode()}"


def test_a_revoked_token_with_its_twin_signature_is_still_revoked(api, user, token_settings):
    token_settings(**signing.config("ES256"))
    access = login(api, user.email)["access"]
    twin = _malleate(access)
    assert twin != access
    assert api.get("/api/auth/whoami", **bearer(twin)).status_code == 200  # the twin verifies
    assert api.post("/api/auth/logout", **bearer(access)).status_code == 204
    assert error_code(api.get("/api/auth/whoami", **bearer(twin))) == "session_revoked"


def test_migrations_create_no_accounts():
    """No default admin: a fresh database has no user at all."""
    assert not User.objects.exists()
