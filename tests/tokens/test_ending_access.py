"""Every way of ending access reaches every credential (docs/api.md "Ending access everywhere").

The per-user cut-off (docs/security.md REV-15..REV-20): logout-all, logout-others,
password change, deactivation by every path, deletion and staff revoke-all
end token sessions, cookie-mode sessions, session logins and admin logins,
at one Redis write whatever the number of sessions, and the cut-off outlives
Redis losing its data.
"""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.sql import emit_post_migrate_signal
from django.db import connection
from django.db.models import Value
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from tests.helpers import PASSWORD, bearer, claims, error_code, login, make_user
from tokens import revocation, services
from tokens.models import RevokeReason, Session, UserCutoff

pytestmark = pytest.mark.django_db

WHOAMI = "/api/auth/whoami"
NEW_PASSWORD = "an entirely new passphrase 42"


def accepted(access: str) -> bool:
    response = APIClient().get(WHOAMI, **bearer(access))
    assert response.status_code in (200, 401), response.content
    if response.status_code == 401:
        assert error_code(response) == "session_revoked"
    return response.status_code == 200


def refreshes(refresh: str) -> bool:
    response = APIClient().post("/api/auth/refresh", {"refresh": refresh}, format="json")
    assert response.status_code in (200, 401), response.content
    return response.status_code == 200


def session_login_client(email: str) -> Client:
    client = Client()
    token = client.get("/api/auth/csrf").json()["csrf_token"]
    response = client.post(
        "/api/session/login",
        {"email": email, "password": PASSWORD},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 200, response.content
    return client


def session_login_alive(client: Client) -> bool:
    response = client.get(WHOAMI)
    assert response.status_code in (200, 401), response.content
    return response.status_code == 200


def admin_client(user) -> Client:
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/admin/", response.content
    return client


def admin_alive(client: Client) -> bool:
    response = client.get("/admin/")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def cache_keys(redis_client, kind: str) -> int:
    return sum(1 for _ in redis_client.scan_iter(match=f"{revocation.PREFIX}{{*}}:{kind}*", count=1000))


# --- one cut-off, whatever the number of sessions --------------------------------------------


def test_logout_all_ends_every_session_with_one_cache_write(api, user, redis_client):
    pairs = [login(APIClient(), user.email) for _ in range(5)]
    other = login(APIClient(), make_user("carol@example.com").email)
    assert api.post("/api/auth/logout-all", **bearer(pairs[0]["access"])).status_code == 204
    assert not any(accepted(pair["access"]) for pair in pairs)
    assert not any(refreshes(pair["refresh"]) for pair in pairs)
    assert accepted(other["access"])  # another user is untouched
    assert cache_keys(redis_client, "s") == cache_keys(redis_client, "j") == 0
    assert cache_keys(redis_client, "u") == 1
    assert redis_client.ttl(revocation.cutoff_key(user.pk)) > 0


def test_the_cutoff_key_lives_until_the_last_access_token_it_refuses_expires(api, user, redis_client, token_settings):
    token_settings(ACCESS_TOKEN_LIFETIME=300, LEEWAY=7)
    pair = login(api, user.email)
    api.post("/api/auth/logout-all", **bearer(pair["access"]))
    ttl = redis_client.ttl(revocation.cutoff_key(user.pk))
    assert 300 + 7 <= ttl <= 300 + 7 + 5 + 1


def test_the_cutoff_is_restored_after_redis_loses_its_data(api, user, redis_client):
    old = login(APIClient(), user.email)
    api.post("/api/auth/logout-all", **bearer(old["access"]))
    redis_client.flushdb()  # the marker goes too: the next check rebuilds from the database
    assert not accepted(old["access"])
    assert redis_client.exists(revocation.cutoff_key(user.pk)) == 1
    assert accepted(login(APIClient(), user.email)["access"])  # a new login is not under it


def test_a_token_without_a_session_start_falls_under_any_cutoff(api, user):
    from tests.helpers import resign

    pair = login(api, user.email)
    legacy = resign(pair["access"], drop=("sst",))
    assert accepted(legacy)  # without a cut-off nothing refuses it
    services.revoke_all_for_user(user, reason=RevokeReason.ADMIN)
    fresh = login(APIClient(), user.email)
    assert not accepted(legacy) and accepted(fresh["access"])


@pytest.mark.parametrize("value", ["1", 1.5, None, [], {}, True])
def test_a_session_start_of_the_wrong_type_is_an_invalid_token(api, user, value):
    from tests.helpers import resign

    forged = resign(login(api, user.email)["access"], sst=value)
    response = api.get(WHOAMI, **bearer(forged))
    assert response.status_code == 401 and error_code(response) == "token_invalid"


# --- the same second -------------------------------------------------------------------------


def test_a_password_change_in_the_same_second_refuses_the_old_pair_and_keeps_the_new(user):
    start = timezone.now().replace(microsecond=100_000)
    with time_machine.travel(start, tick=False) as clock:
        old = login(APIClient(), user.email)
        clock.move_to(start + timedelta(microseconds=300_000))
        response = APIClient().put(
            "/api/auth/profile/password",
            {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            format="json",
            **bearer(old["access"]),
        )
        assert response.status_code == 200, response.content
        new = response.json()
        clock.move_to(start + timedelta(microseconds=600_000))
        assert claims(old["access"])["iat"] == claims(new["access"])["iat"]  # one second for all three
        assert not accepted(old["access"]) and not refreshes(old["refresh"])
        assert accepted(new["access"]) and refreshes(new["refresh"])


def test_a_session_started_at_the_very_instant_of_the_cutoff_is_refused_and_the_next_one_is_not(user):
    with time_machine.travel(timezone.now(), tick=False):  # every timestamp below is the same microsecond
        before = login(APIClient(), user.email)
        services.revoke_all_for_user(user, reason=RevokeReason.ADMIN)
        after = login(APIClient(), user.email)
        assert not accepted(before["access"])
        assert accepted(after["access"])
        assert claims(after["access"])["sst"] > claims(before["access"])["sst"]


def test_a_session_from_a_server_whose_clock_runs_ahead_is_still_ended(user):
    now = timezone.now()
    with time_machine.travel(now + timedelta(seconds=3), tick=False):
        ahead = login(APIClient(), user.email)  # a server 3 s ahead started it
    with time_machine.travel(now, tick=False):
        services.revoke_all_for_user(user, reason=RevokeReason.ADMIN)  # a server on time ends it
    with time_machine.travel(now + timedelta(seconds=4), tick=False):
        assert not accepted(ahead["access"])


# --- logout-others ---------------------------------------------------------------------------


def test_logout_others_keeps_this_session_and_ends_every_other_credential(user, redis_client):
    this = login(APIClient(), user.email)
    phone = login(APIClient(), user.email)
    browser = session_login_client(user.email)
    response = APIClient().post("/api/auth/logout-others", **bearer(this["access"]))
    assert response.status_code == 204
    assert accepted(this["access"]) and refreshes(this["refresh"])
    assert not accepted(phone["access"]) and not refreshes(phone["refresh"])
    assert not session_login_alive(browser)
    assert cache_keys(redis_client, "s") == 0  # one cut-off that keeps one session


def test_logout_others_from_a_session_login_keeps_that_session_login(user):
    mine = session_login_client(user.email)
    other_browser = session_login_client(user.email)
    token = login(APIClient(), user.email)
    csrf = mine.cookies["csrftoken"].value
    assert mine.post("/api/auth/logout-others", HTTP_X_CSRFTOKEN=csrf).status_code == 204
    assert session_login_alive(mine)
    assert not session_login_alive(other_browser) and not accepted(token["access"])


def test_logout_others_needs_authentication(api):
    response = api.post("/api/auth/logout-others")
    assert response.status_code == 401 and error_code(response) == "not_authenticated"


def test_the_kept_session_falls_under_a_later_cutoff(user):
    this = login(APIClient(), user.email)
    APIClient().post("/api/auth/logout-others", **bearer(this["access"]))
    APIClient().post("/api/auth/logout-all", **bearer(this["access"]))
    assert not accepted(this["access"])


# --- session logins and admin logins ----------------------------------------------------------


def ways_of_ending(user, token_pair):
    client = APIClient()
    return {
        "logout-all": lambda: client.post("/api/auth/logout-all", **bearer(token_pair["access"])),
        "password change": lambda: client.put(
            "/api/auth/profile/password",
            {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            format="json",
            **bearer(token_pair["access"]),
        ),
        "staff revoke-all": lambda: services.revoke_all_for_user(user, reason=RevokeReason.ADMIN),
        "deactivation": lambda: get_user_model().objects.filter(pk=user.pk).update(is_active=False),
        "deletion": lambda: get_user_model().objects.filter(pk=user.pk).delete(),
    }


@pytest.mark.parametrize("way", ["logout-all", "password change", "staff revoke-all", "deactivation", "deletion"])
def test_every_way_of_ending_access_ends_tokens_cookies_session_logins_and_admin_logins(way, redis_client):
    user = make_user("staff@example.com", is_staff=True, is_superuser=True)
    bearer_pair = login(APIClient(), user.email)
    cookie_client = APIClient()
    cookie_login = cookie_client.post(
        "/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json", HTTP_X_AUTH_MODE="cookie"
    )
    assert cookie_login.status_code == 200 and "access" not in cookie_login.json()
    browser = session_login_client(user.email)
    admin = admin_client(user)
    assert admin_alive(admin) and session_login_alive(browser)
    assert cookie_client.get(WHOAMI).status_code == 200

    ending = ways_of_ending(user, bearer_pair)[way]()
    assert getattr(ending, "status_code", 200) in (200, 204)
    for flushed in (False, True):
        if flushed:
            redis_client.flushdb()  # and again after Redis lost every key
        assert not accepted(bearer_pair["access"]) and not refreshes(bearer_pair["refresh"])
        assert cookie_client.get(WHOAMI).status_code == 401
        assert not session_login_alive(browser)
        assert not admin_alive(admin)


# --- deactivation, every path ------------------------------------------------------------------


def _deactivate_by_save(user):
    user.is_active = False
    user.save()


def _deactivate_by_raw_sql_then_migrate(user):
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {get_user_model()._meta.db_table} SET is_active = %s WHERE id = %s", [False, user.pk])
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")


DEACTIVATIONS = {
    "save": _deactivate_by_save,
    "save(update_fields)": lambda u: (setattr(u, "is_active", False), u.save(update_fields=["is_active"])),
    "update(False)": lambda u: get_user_model().objects.filter(pk=u.pk).update(is_active=False),
    "update(Value(False))": lambda u: get_user_model().objects.filter(pk=u.pk).update(is_active=Value(False)),
    "bulk_update": lambda u: (setattr(u, "is_active", False), get_user_model().objects.bulk_update([u], ["is_active"])),
    "raw SQL, then a migrate": _deactivate_by_raw_sql_then_migrate,
}


@pytest.mark.parametrize("path", list(DEACTIVATIONS))
def test_deactivation_by_every_path_refuses_access_and_refresh(path, user):
    bystander = login(APIClient(), make_user("dave@example.com").email)
    pair = login(APIClient(), user.email)
    DEACTIVATIONS[path](get_user_model().objects.get(pk=user.pk))
    assert not accepted(pair["access"])
    assert not refreshes(pair["refresh"])
    assert accepted(bystander["access"])


def test_a_deactivation_django_never_saw_cannot_refresh(user):
    pair = login(APIClient(), user.email)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {get_user_model()._meta.db_table} SET is_active = %s WHERE id = %s", [False, user.pk])
    response = APIClient().post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 401 and error_code(response) == "session_revoked"


def test_reactivating_a_user_does_not_revive_old_sessions(user):
    pair = login(APIClient(), user.email)
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    get_user_model().objects.filter(pk=user.pk).update(is_active=True)
    assert not accepted(pair["access"]) and not refreshes(pair["refresh"])
    assert accepted(login(APIClient(), user.email)["access"])


# --- deletion --------------------------------------------------------------------------------


def test_a_deleted_users_tokens_stay_refused_after_redis_loses_its_data(user, redis_client):
    pair = login(APIClient(), user.email)
    user_id = user.pk
    user.delete()
    assert not Session.objects.filter(user_id=user_id).exists()  # the cascade left nothing to rebuild from
    redis_client.flushdb()
    assert not accepted(pair["access"])
    assert UserCutoff.objects.get(user_id=str(user_id)).user_deleted


def test_a_tombstone_is_dropped_once_no_token_of_the_user_can_be_accepted(user, token_settings):
    token_settings(ACCESS_TOKEN_LIFETIME=60)
    user_id = str(user.pk)
    user.delete()
    call_command("flush_expired_tokens")
    assert UserCutoff.objects.filter(user_id=user_id).exists()
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        call_command("flush_expired_tokens")
    assert not UserCutoff.objects.filter(user_id=user_id).exists()


def test_the_cutoff_of_a_live_user_is_kept_for_its_session_logins(user, token_settings):
    token_settings(ACCESS_TOKEN_LIFETIME=60)
    services.revoke_all_for_user(user, reason=RevokeReason.ADMIN)
    with time_machine.travel(timezone.now() + timedelta(days=30)):
        call_command("flush_expired_tokens")
    assert UserCutoff.objects.filter(user_id=str(user.pk)).exists()


# --- lifetimes lowered after the fact ----------------------------------------------------------


def test_lowering_session_max_age_shortens_existing_sessions(user, token_settings):
    pair = login(APIClient(), user.email)
    token_settings(SESSION_MAX_AGE=120)
    with time_machine.travel(timezone.now() + timedelta(seconds=121)):
        response = APIClient().post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 401 and error_code(response) == "token_expired"


def test_lowering_session_max_age_caps_what_a_rotation_issues(user, token_settings):
    pair = login(APIClient(), user.email)
    token_settings(SESSION_MAX_AGE=600)
    fresh = APIClient().post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json").json()
    started = Session.objects.get(user=user).created_at.timestamp()
    assert claims(fresh["refresh"])["exp"] <= started + 600
    assert claims(fresh["access"])["exp"] <= started + 600


def test_lowering_refresh_token_lifetime_expires_idle_refresh_tokens(user, token_settings):
    pair = login(APIClient(), user.email)
    token_settings(REFRESH_TOKEN_LIFETIME=300)
    with time_machine.travel(timezone.now() + timedelta(seconds=301)):
        response = APIClient().post("/api/auth/refresh", {"refresh": pair["refresh"]}, format="json")
    assert response.status_code == 401 and error_code(response) == "token_expired"


# --- cookie mode --------------------------------------------------------------------------------


def test_a_password_change_in_cookie_mode_sets_cookies_and_puts_no_token_in_the_body(user, settings):
    client = APIClient()
    login_response = client.post(
        "/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json", HTTP_X_AUTH_MODE="cookie"
    )
    csrf = login_response.cookies["csrftoken"].value
    old_access = login_response.cookies[_access_cookie()].value
    response = client.put(
        "/api/auth/profile/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert "access" not in body and "refresh" not in body and "access_expires_at" in body
    assert response["Cache-Control"] == "no-store"
    new_access = response.cookies[_access_cookie()].value
    assert new_access != old_access
    assert client.get(WHOAMI).status_code == 200  # the client holds the new cookies
    assert not accepted(old_access) and accepted(new_access)


def _access_cookie() -> str:
    from tokens import cookies

    return cookies.access_cookie_name()
