"""PUT /api/auth/profile/password: every session ends; this device gets a fresh pair."""

import pytest

from accounts.models import User
from tests.helpers import PASSWORD, bearer, claims, error_code, login
from tokens.models import AuthEvent, Session

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase 93"


def change(api, access, current=PASSWORD, new=NEW_PASSWORD, **extra):
    body = {"current_password": current, "new_password": new}
    return api.put("/api/auth/profile/password", body, format="json", **bearer(access), **extra)


def test_returns_a_fresh_pair_that_works_and_is_not_cached(api, user):
    phone = login(api, user.email, device_name="Phone")
    response = change(api, phone["access"])
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    assert response["Cache-Control"] == "no-store" and response["Pragma"] == "no-cache"
    fresh = response.json()
    assert api.get("/api/auth/whoami", **bearer(fresh["access"])).status_code == 200
    assert api.post("/api/auth/refresh", {"refresh": fresh["refresh"]}, format="json").status_code == 200
    new_session = Session.objects.get(pk=claims(fresh["access"])["sid"])
    assert new_session.device_name == "Phone"


def test_the_new_password_logs_in_and_the_old_one_does_not(api, user):
    phone = login(api, user.email)
    change(api, phone["access"])
    login(api, user.email, NEW_PASSWORD)
    failed = api.post("/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json")
    assert failed.status_code == 401


def test_every_other_session_is_revoked(api, user, other_user):
    phone = login(api, user.email)
    laptop = login(api, user.email)
    bob = login(api, other_user.email)
    change(api, phone["access"])
    refused = api.get("/api/auth/whoami", **bearer(laptop["access"]))
    assert refused.status_code == 401 and error_code(refused) == "session_revoked"
    reused = api.post("/api/auth/refresh", {"refresh": laptop["refresh"]}, format="json")
    assert reused.status_code == 401
    assert api.get("/api/auth/whoami", **bearer(bob["access"])).status_code == 200
    laptop_session = Session.objects.get(pk=claims(laptop["access"])["sid"])
    assert laptop_session.revoke_reason == "password_change"


def test_this_devices_old_tokens_are_refused_too(api, user):
    """The current session ends as well: the token that changed the password is spent."""
    phone = login(api, user.email)
    fresh = change(api, phone["access"]).json()
    refused = api.get("/api/auth/whoami", **bearer(phone["access"]))
    assert refused.status_code == 401 and error_code(refused) == "session_revoked"
    assert api.post("/api/auth/refresh", {"refresh": phone["refresh"]}, format="json").status_code == 401
    assert claims(fresh["access"])["sid"] != claims(phone["access"])["sid"]
    sessions = api.get("/api/auth/sessions", **bearer(fresh["access"])).json()
    assert [s["current"] for s in sessions] == [True]


def test_wrong_current_password_is_a_field_error_and_changes_nothing(api, user):
    phone = login(api, user.email)
    response = change(api, phone["access"], current="not my password")
    assert response.status_code == 400
    assert response.json() == {"current_password": ["The current password is incorrect."]}
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert api.get("/api/auth/whoami", **bearer(phone["access"])).status_code == 200


@pytest.mark.parametrize("new_password", ["short", "12345678901", "password123", "alice@example.com"])
def test_django_validators_apply_to_the_new_password(api, user, new_password):
    phone = login(api, user.email)
    response = change(api, phone["access"], new=new_password)
    assert response.status_code == 400
    assert list(response.json()) == ["new_password"]
    assert api.get("/api/auth/whoami", **bearer(phone["access"])).status_code == 200


@pytest.mark.parametrize("body", [{}, {"current_password": PASSWORD}, {"new_password": NEW_PASSWORD}])
def test_missing_fields_are_field_errors(api, user, body):
    phone = login(api, user.email)
    response = api.put("/api/auth/profile/password", body, format="json", **bearer(phone["access"]))
    assert response.status_code == 400


def test_requires_an_access_token(api, user):
    response = api.put("/api/auth/profile/password", {}, format="json")
    assert response.status_code == 401 and error_code(response) == "not_authenticated"


def test_is_logged_as_an_auth_event(api, user):
    phone = login(api, user.email)
    change(api, phone["access"])
    event = AuthEvent.objects.get(kind="password_changed")
    assert event.user == user and event.actor == user
    assert AuthEvent.objects.filter(kind="session_revoked", reason="password_change").count() == 1
    assert "access" not in str(event.details) and PASSWORD not in str(AuthEvent.objects.values_list())


def test_redis_down_changes_nothing(api, user, token_settings):
    phone = login(api, user.email)
    # The database fallback lets the request authenticate; the revocation write still fails.
    token_settings(REDIS_URL="redis://127.0.0.1:1/0", REDIS_SOCKET_TIMEOUT=0.5, REVOCATION_FAILURE_MODE="database")
    response = change(api, phone["access"])
    assert response.status_code == 503 and error_code(response) == "auth_unavailable"
    assert User.objects.get(pk=user.pk).check_password(PASSWORD)
    assert Session.objects.live().filter(user=user).count() == 1
