from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.helpers import bearer, claims, error_code, resign
from tokens.models import RefreshToken, RevokeReason, Session

pytestmark = pytest.mark.django_db


def refresh(api, token):
    return api.post("/api/auth/refresh", {"refresh": token}, format="json")


def test_refresh_uses_up_the_token_and_links_the_new_one(api, session_tokens):
    r1 = session_tokens["refresh"]
    response = refresh(api, r1)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    r2 = response.json()["refresh"]
    old = RefreshToken.objects.get(jti=claims(r1)["jti"])
    new = RefreshToken.objects.get(jti=claims(r2)["jti"])
    assert old.used_at is not None and old.replaced_by == new
    assert new.session_id == old.session_id and not new.is_revoked and new.used_at is None
    assert claims(r2)["exp"] <= new.session.expires_at.timestamp()
    access = response.json()["access"]
    assert claims(access)["refresh_jti"] == new.jti
    assert claims(access)["sid"] == new.session_id
    assert api.get("/api/auth/whoami", **bearer(access)).status_code == 200


def test_replay_inside_grace_returns_the_same_refresh_token(api, session_tokens):
    first = refresh(api, session_tokens["refresh"]).json()
    retry = refresh(api, session_tokens["refresh"])
    assert retry.status_code == 200
    assert retry.json()["refresh"] == first["refresh"]
    assert claims(retry.json()["access"])["jti"] != claims(first["access"])["jti"]
    session = Session.objects.get()
    assert session.refresh_tokens.filter(used_at__isnull=True, is_revoked=False).count() == 1
    assert session.revoked_at is None


def test_replay_after_grace_revokes_the_session(api, session_tokens, token_settings):
    token_settings(REFRESH_GRACE_SECONDS=10)
    a1 = session_tokens["access"]
    second = refresh(api, session_tokens["refresh"]).json()
    with time_machine.travel(timezone.now() + timedelta(seconds=11)):
        response = refresh(api, session_tokens["refresh"])
        assert response.status_code == 401
        assert error_code(response) == "refresh_reused"
        assert 'error="invalid_token"' in response["WWW-Authenticate"]
        session = Session.objects.get()
        assert session.revoke_reason == RevokeReason.REUSE
        assert error_code(refresh(api, second["refresh"])) == "session_revoked"
        for access in (a1, second["access"]):
            assert error_code(api.get("/api/auth/whoami", **bearer(access))) == "session_revoked"


def test_grace_boundary(api, session_tokens, token_settings):
    token_settings(REFRESH_GRACE_SECONDS=5)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        refresh(api, session_tokens["refresh"])
    with time_machine.travel(start + timedelta(seconds=4), tick=False):
        assert refresh(api, session_tokens["refresh"]).status_code == 200
    with time_machine.travel(start + timedelta(seconds=6), tick=False):
        assert error_code(refresh(api, session_tokens["refresh"])) == "refresh_reused"


def test_a_token_two_generations_old_is_theft_even_inside_the_window(api, session_tokens):
    r2 = refresh(api, session_tokens["refresh"]).json()["refresh"]
    r3 = refresh(api, r2).json()["refresh"]
    response = refresh(api, session_tokens["refresh"])
    assert error_code(response) == "refresh_reused"
    assert error_code(refresh(api, r3)) == "session_revoked"


def test_thief_branch_is_revoked_when_the_victim_replays(api, session_tokens, token_settings):
    token_settings(REFRESH_GRACE_SECONDS=1)
    thief = refresh(api, session_tokens["refresh"]).json()
    with time_machine.travel(timezone.now() + timedelta(seconds=5)):
        assert error_code(refresh(api, session_tokens["refresh"])) == "refresh_reused"
        assert error_code(api.get("/api/auth/whoami", **bearer(thief["access"]))) == "session_revoked"
        assert error_code(refresh(api, thief["refresh"])) == "session_revoked"


def test_without_grace_a_duplicate_refresh_is_reuse(api, session_tokens, token_settings):
    token_settings(REFRESH_GRACE_SECONDS=0)
    assert refresh(api, session_tokens["refresh"]).status_code == 200
    assert error_code(refresh(api, session_tokens["refresh"])) == "refresh_reused"
    assert Session.objects.get().revoke_reason == RevokeReason.REUSE


def test_expired_refresh_is_token_expired_and_leaves_the_session_alone(api, session_tokens, token_settings):
    token_settings(REFRESH_TOKEN_LIFETIME=60)
    r2 = refresh(api, session_tokens["refresh"]).json()["refresh"]
    with time_machine.travel(timezone.now() + timedelta(seconds=120)):
        assert error_code(refresh(api, r2)) == "token_expired"
    assert Session.objects.get().revoked_at is None


def test_rotation_cannot_pass_the_session_absolute_lifetime(api, user, token_settings):
    token_settings(SESSION_MAX_AGE=300, REFRESH_TOKEN_LIFETIME=200, REFRESH_GRACE_SECONDS=0)
    from tests.helpers import login

    start = timezone.now()
    with time_machine.travel(start, tick=False):
        token = login(api, user.email)["refresh"]
    session_end = Session.objects.get().expires_at.timestamp()
    for step in (100, 200, 290):
        with time_machine.travel(start + timedelta(seconds=step), tick=False):
            response = refresh(api, token)
            assert response.status_code == 200
            token = response.json()["refresh"]
            assert claims(token)["exp"] <= session_end
            assert claims(response.json()["access"])["exp"] <= session_end
    with time_machine.travel(start + timedelta(seconds=301), tick=False):
        assert error_code(refresh(api, token)) == "token_expired"


def test_refresh_of_a_logged_out_session_is_session_revoked(api, session_tokens):
    api.post("/api/auth/logout", **bearer(session_tokens["access"]))
    assert error_code(refresh(api, session_tokens["refresh"])) == "session_revoked"


def test_a_signed_refresh_token_without_a_row_is_invalid(api, session_tokens):
    RefreshToken.objects.all().delete()
    assert error_code(refresh(api, session_tokens["refresh"])) == "token_invalid"


def test_claims_disagreeing_with_the_row_are_invalid(api, session_tokens, other_user):
    forged = resign(session_tokens["refresh"], user_id=str(other_user.pk))
    assert error_code(refresh(api, forged)) == "token_invalid"


@pytest.mark.parametrize("bad", ["", "garbage", "a.b.c", "x" * 9000])
def test_garbage_refresh_is_400_or_401(api, bad):
    response = refresh(api, bad)
    assert response.status_code in (400, 401)


def test_an_access_token_is_not_a_refresh_token(api, session_tokens):
    assert error_code(refresh(api, session_tokens["access"])) == "token_invalid"


def test_refresh_failures_carry_www_authenticate(api):
    response = refresh(api, "a.b.c")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer realm="flowauth", error="invalid_token"')
