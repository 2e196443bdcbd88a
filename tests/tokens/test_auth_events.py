"""The auth event log: written by the services, one row per event, never on the auth path."""

import pytest

from tests.helpers import PASSWORD, bearer, claims, login
from tokens.models import AuthEvent, Session
from tokens.services import revoke_session

pytestmark = pytest.mark.django_db


def kinds() -> list[str]:
    return list(AuthEvent.objects.order_by("created_at", "pk").values_list("kind", flat=True))


def test_a_login_is_one_event_with_its_session(api, user):
    tokens = login(api, user.email, device_name="Phone", HTTP_USER_AGENT="ua")
    event = AuthEvent.objects.get()
    assert event.kind == "login_succeeded" and event.user == user
    assert event.session_id == claims(tokens["access"])["sid"] and event.ip_address == "127.0.0.1"


def test_a_failed_login_records_the_address_tried_not_the_password(api, user):
    api.post("/api/auth/login", {"email": " Alice@Example.com ", "password": "guess"}, format="json")
    api.post("/api/auth/login", {"email": "ghost@example.com", "password": "guess"}, format="json")
    failed = AuthEvent.objects.filter(kind="login_failed").order_by("pk")
    assert [(e.email, e.user_id) for e in failed] == [("alice@example.com", None), ("ghost@example.com", None)]
    assert "guess" not in str(list(AuthEvent.objects.values()))


def test_authenticated_requests_write_no_event(api, user, django_assert_num_queries):
    tokens = login(api, user.email)
    with django_assert_num_queries(0):
        assert api.get("/api/auth/whoami", **bearer(tokens["access"])).status_code == 200
    assert kinds() == ["login_succeeded"]


def test_reuse_is_recorded_with_the_ended_session(api, user, token_settings):
    token_settings(REFRESH_GRACE_SECONDS=0)
    tokens = login(api, user.email)
    api.post("/api/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    api.post("/api/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    sid = claims(tokens["access"])["sid"]
    assert AuthEvent.objects.get(kind="reuse_detected").session_id == sid
    assert AuthEvent.objects.get(kind="session_revoked").reason == "reuse"


def test_logout_and_logout_all_are_logout_events(api, user):
    one = login(api, user.email)
    two = login(api, user.email)
    login(api, user.email)
    api.post("/api/auth/logout", **bearer(one["access"]))
    api.post("/api/auth/logout-all", **bearer(two["access"]))
    logouts = AuthEvent.objects.filter(kind="logout")
    assert sorted(logouts.values_list("reason", flat=True)) == ["logout", "logout_all", "logout_all"]


def test_revoking_an_ended_session_again_writes_nothing(api, user):
    tokens = login(api, user.email)
    api.post("/api/auth/logout", **bearer(tokens["access"]))
    before = AuthEvent.objects.count()
    revoke_session(Session.objects.get(pk=claims(tokens["access"])["sid"]), reason="admin")
    assert AuthEvent.objects.count() == before
    assert PASSWORD not in str(list(AuthEvent.objects.values()))
