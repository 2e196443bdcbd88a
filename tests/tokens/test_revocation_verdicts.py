"""/introspect, /revoke and the authentication class agree after every kind of revocation (REV-12, REV-20)."""

import base64
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from tests.helpers import PASSWORD, bearer, login, make_user
from tokens import services
from tokens.models import RevokeReason, Session

pytestmark = pytest.mark.django_db

SERVICE = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"svc:s3cret-introspection").decode()}


@pytest.fixture(autouse=True)
def _introspection_client(settings):
    settings.INTROSPECTION_CLIENTS = {"svc": "s3cret-introspection"}


def _verdicts(pair: dict) -> dict:
    client = APIClient()
    whoami = client.get("/api/auth/whoami", **bearer(pair["access"]))
    return {
        "auth class": whoami.status_code,
        "introspect access": client.post(
            "/api/auth/introspect", {"token": pair["access"]}, format="json", **SERVICE
        ).json(),
        "introspect refresh": client.post(
            "/api/auth/introspect", {"token": pair["refresh"]}, format="json", **SERVICE
        ).json(),
    }


def _other(user) -> dict:
    return login(APIClient(), user.email)


def _reuse(user, pair):
    client = APIClient()
    client.post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json")
    with time_machine.travel(timezone.now() + timedelta(seconds=60)):
        client.post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json")


KINDS = {
    "logout": lambda user, pair: APIClient().post("/api/auth/logout", **bearer(pair["access"])),
    "logout-all": lambda user, pair: APIClient().post("/api/auth/logout-all", **bearer(pair["access"])),
    "logout-others (from another session)": lambda user, pair: APIClient().post(
        "/api/auth/logout-others", **bearer(_other(user)["access"])
    ),
    "password change": lambda user, pair: APIClient().put(
        "/api/auth/profile/password",
        {"current_password": PASSWORD, "new_password": "a new passphrase 42"},
        format="json",
        **bearer(pair["access"]),
    ),
    "device list delete": lambda user, pair: APIClient().delete(
        f"/api/auth/sessions/{Session.objects.get(user=user).pk}", **bearer(_other(user)["access"])
    ),
    "revoke endpoint, refresh token": lambda user, pair: APIClient().post(
        "/api/auth/revoke", {"token": pair["refresh"]}, format="json"
    ),
    "revoke endpoint, access token": lambda user, pair: APIClient().post(
        "/api/auth/revoke", {"token": pair["access"]}, format="json"
    ),
    "staff revoke-all": lambda user, pair: services.revoke_all_for_user(user, reason=RevokeReason.ADMIN),
    "staff revoke one": lambda user, pair: services.revoke_sessions(
        Session.objects.filter(user=user), reason=RevokeReason.ADMIN
    ),
    "deactivation": lambda user, pair: get_user_model().objects.filter(pk=user.pk).update(is_active=False),
    "deletion": lambda user, pair: get_user_model().objects.filter(pk=user.pk).delete(),
    "reuse detection": _reuse,
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_revocation_is_the_same_verdict_everywhere(kind, user):
    pair = login(APIClient(), user.email)
    live = _verdicts(pair)
    assert live["auth class"] == 200
    assert live["introspect access"]["active"] and live["introspect refresh"]["active"]
    KINDS[kind](user, pair)
    assert _verdicts(pair) == {
        "auth class": 401,
        "introspect access": {"active": False},
        "introspect refresh": {"active": False},
    }


def test_a_refresh_token_past_a_lowered_lifetime_is_inactive_as_rotation_refuses_it(user, token_settings):
    pair = login(APIClient(), user.email)
    token_settings(REFRESH_TOKEN_LIFETIME=60, SESSION_MAX_AGE=7_776_000)
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        verdict = APIClient().post("/api/auth/introspect", {"token": pair["refresh"]}, format="json", **SERVICE)
        refresh = APIClient().post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json")
    assert verdict.json() == {"active": False} and refresh.status_code == 401


def test_another_users_revocation_leaves_a_token_active(user):
    pair = login(APIClient(), user.email)
    other = make_user("frank@example.com")
    services.revoke_all_for_user(other, reason=RevokeReason.ADMIN)
    assert _verdicts(pair)["introspect access"]["active"] is True
