from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from tests.helpers import bearer, claims, error_code, login, refresh_key_of, session_key_of
from tokens import lifetimes, revocation
from tokens import redis_client as redis_client_module
from tokens.models import RefreshToken, RevokeReason, Session

pytestmark = pytest.mark.django_db

WHOAMI = "/api/auth/whoami"


def test_logout_refuses_the_access_token_on_the_next_request(api, session_tokens):
    assert api.get(WHOAMI, **bearer(session_tokens["access"])).status_code == 200
    response = api.post("/api/auth/logout", **bearer(session_tokens["access"]))
    assert response.status_code == 204
    refused = api.get(WHOAMI, **bearer(session_tokens["access"]))
    assert refused.status_code == 401 and error_code(refused) == "session_revoked"
    session = Session.objects.get()
    assert session.revoke_reason == RevokeReason.LOGOUT
    assert not session.refresh_tokens.filter(is_revoked=False).exists()


def test_logout_writes_both_keys_with_ttls_covering_the_access_lifetime(
    api, session_tokens, redis_client, token_settings
):
    token_settings(ACCESS_TOKEN_LIFETIME=600, REVOCATION_TTL_MARGIN=5, LEEWAY=0)
    access = login(api, "alice@example.com")["access"]
    api.post("/api/auth/logout", **bearer(access))
    for key in (session_key_of(access), refresh_key_of(access)):
        ttl = redis_client.ttl(key)
        assert 600 <= ttl <= 600 + 5 + 1, (key, ttl)


def test_ttl_is_capped_by_the_session_end(db, redis_client, token_settings):
    token_settings(ACCESS_TOKEN_LIFETIME=900, REVOCATION_TTL_MARGIN=0)
    now = timezone.now()
    entry = lifetimes.Revocation("s1", "u1", revoked_at=now, session_expires_at=now + timedelta(seconds=30))
    assert entry.ttl_seconds(now) == 30
    assert entry.ttl_seconds(now + timedelta(seconds=29, milliseconds=500)) == 1
    assert entry.ttl_seconds(now + timedelta(seconds=31)) == 0
    assert revocation.write([entry], now=now + timedelta(seconds=31)) == 0
    assert not redis_client.exists(revocation.session_key("s1", "u1"))


def test_a_second_logout_is_idempotent(api, session_tokens):
    api.post("/api/auth/logout", **bearer(session_tokens["access"]))
    session = Session.objects.get()
    from tokens.services import revoke_session

    revoke_session(session, reason=RevokeReason.ADMIN)
    session.refresh_from_db()
    assert session.revoke_reason == RevokeReason.LOGOUT


def test_logout_all_ends_every_session_of_the_user_only(api, user, other_user):
    phone, laptop = login(api, user.email), login(api, user.email)
    bob = login(api, other_user.email)
    assert api.post("/api/auth/logout-all", **bearer(phone["access"])).status_code == 204
    for tokens in (phone, laptop):
        assert error_code(api.get(WHOAMI, **bearer(tokens["access"]))) == "session_revoked"
    assert api.get(WHOAMI, **bearer(bob["access"])).status_code == 200


def test_logout_leaves_other_sessions_working(api, user):
    phone, laptop = login(api, user.email), login(api, user.email)
    api.post("/api/auth/logout", **bearer(phone["access"]))
    assert api.get(WHOAMI, **bearer(laptop["access"])).status_code == 200


def test_access_tokens_from_before_a_rotation_are_refused_after_logout(api, session_tokens):
    rotated = api.post("/api/auth/refresh", {"refresh": session_tokens["refresh"]}, format="json").json()
    api.post("/api/auth/logout", **bearer(rotated["access"]))
    assert error_code(api.get(WHOAMI, **bearer(session_tokens["access"]))) == "session_revoked"


def test_flushed_redis_is_rebuilt_before_any_token_is_trusted(api, user, redis_client):
    revoked, live = login(api, user.email), login(api, user.email)
    api.post("/api/auth/logout", **bearer(revoked["access"]))
    redis_client.flushdb()
    assert error_code(api.get(WHOAMI, **bearer(revoked["access"]))) == "session_revoked"
    assert api.get(WHOAMI, **bearer(live["access"])).status_code == 200
    assert redis_client.get(revocation.MARKER_KEY) == redis_client_module.server_epoch()


def test_a_marker_from_another_server_run_forces_a_rebuild(api, user, redis_client):
    revoked = login(api, user.email)
    api.post("/api/auth/logout", **bearer(revoked["access"]))
    # What a restart from an old snapshot looks like: the marker is there, the key is not.
    redis_client.delete(session_key_of(revoked["access"]), refresh_key_of(revoked["access"]))
    redis_client.set(revocation.MARKER_KEY, "run-id-of-an-earlier-server")
    assert error_code(api.get(WHOAMI, **bearer(revoked["access"]))) == "session_revoked"


def test_rebuild_command_restores_only_live_revocations(api, user, redis_client, token_settings):
    token_settings(ACCESS_TOKEN_LIFETIME=60)
    old = login(api, user.email)
    api.post("/api/auth/logout", **bearer(old["access"]))
    with time_machine.travel(timezone.now() + timedelta(seconds=120)):
        recent = login(api, user.email)
        api.post("/api/auth/logout", **bearer(recent["access"]))
        redis_client.flushdb()
        call_command("rebuild_revocation_cache")
        assert not redis_client.exists(session_key_of(old["access"]))
        assert redis_client.exists(session_key_of(recent["access"]))
        assert redis_client.ttl(session_key_of(recent["access"])) > 0


def test_flush_expired_tokens_keeps_what_rotation_and_rebuild_need(api, user, token_settings):
    token_settings(REFRESH_TOKEN_LIFETIME=60, SESSION_MAX_AGE=100, ACCESS_TOKEN_LIFETIME=30)
    expired = login(api, user.email)
    with time_machine.travel(timezone.now() + timedelta(seconds=200)):
        live = login(api, user.email)
        call_command("flush_expired_tokens", batch_size=1)
        assert not Session.objects.filter(pk=claims(expired["refresh"])["sid"]).exists()
        assert RefreshToken.objects.filter(jti=claims(live["refresh"])["jti"]).exists()
        assert api.post("/api/auth/refresh", {"refresh": live["refresh"]}, format="json").status_code == 200


def test_refresh_rows_hold_no_token_strings(api, session_tokens):
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("tokens_refreshtoken", "tokens_session"):
            cursor.execute(f"SELECT * FROM {table}")
            assert "eyJ" not in repr(cursor.fetchall())


def test_a_flush_during_a_rebuild_does_not_mark_the_cache_complete(db, redis_client, monkeypatch):
    from flowauth.errors import RevocationStoreUnavailable
    from tokens import selectors

    def flushing_revocations():
        redis_client.flushdb()  # what a FLUSHALL in the middle of the rebuild does
        return iter(())

    monkeypatch.setattr(selectors, "revocations_to_guard", flushing_revocations)
    with pytest.raises(RevocationStoreUnavailable):
        revocation.rebuild()
    assert redis_client.get(revocation.MARKER_KEY) is None


def test_rebuilds_do_not_overlap(db, redis_client):
    from flowauth.errors import RevocationStoreUnavailable

    redis_client.set(revocation.REBUILD_LOCK_KEY, "another process")
    with pytest.raises(RevocationStoreUnavailable):
        revocation.rebuild()


def test_requests_while_another_process_rebuilds_are_503_not_checked_against_a_partial_cache(
    api, session_tokens, redis_client
):
    redis_client.delete(revocation.MARKER_KEY)
    redis_client.set(revocation.REBUILD_LOCK_KEY, "another process", ex=30)
    response = api.get(WHOAMI, **bearer(session_tokens["access"]))
    assert response.status_code == 503 and error_code(response) == "auth_unavailable"
    redis_client.delete(revocation.REBUILD_LOCK_KEY)  # the other rebuild gave up
    assert api.get(WHOAMI, **bearer(session_tokens["access"])).status_code == 200


def test_every_revocation_key_expires_and_the_marker_does_not(api, user, redis_client):
    for _ in range(3):
        api.post("/api/auth/logout", **bearer(login(api, user.email)["access"]))
    keys = list(redis_client.scan_iter(match=revocation.PREFIX + "*"))
    assert len(keys) == 3 * 2 + 1  # a session key and a jti key each, and the marker
    for key in keys:
        ttl = redis_client.ttl(key)
        assert (ttl == -1) if key == revocation.MARKER_KEY else (ttl > 0), (key, ttl)


def test_revoking_a_thousand_sessions_of_one_user_writes_one_cutoff_key(user, redis_client):
    from tokens import services

    sessions = [Session(user=user, expires_at=timezone.now() + timedelta(days=1)) for _ in range(1000)]
    Session.objects.bulk_create(sessions)
    RefreshToken.objects.bulk_create(
        RefreshToken(
            user=user, session=session, issued_at=timezone.now(), expires_at=timezone.now() + timedelta(hours=1)
        )
        for session in sessions
    )
    assert services.revoke_all_for_user(user, reason=RevokeReason.ADMIN) == 1000
    assert services.revoke_all_for_user(user, reason=RevokeReason.ADMIN) == 0  # idempotent: nothing newly ended
    per_session = sum(1 for _ in redis_client.scan_iter(match=revocation.PREFIX + "[sj]:*", count=1000))
    assert per_session == 0  # the cut-off refuses them all: O(1) writes whatever their number
    assert redis_client.exists(revocation.cutoff_key(user.pk)) == 1
    assert not Session.objects.filter(revoked_at__isnull=True).exists()
