"""Django admin for staff: sessions and events read-only, revocation through the services."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.contrib.sessions.models import Session as DjangoSession
from django.core.cache import cache
from django.test import Client
from django_redis import get_redis_connection

from accounts.models import User
from tests.helpers import PASSWORD, bearer, claims, error_code, login, make_user
from tokens.models import AuthEvent, Session

pytestmark = pytest.mark.django_db

SESSIONS = "/admin/tokens/session/"
USERS = "/admin/accounts/user/"
EVENTS = "/admin/tokens/authevent/"


def staff(email: str, *perms: str) -> User:
    member = make_user(email, is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        member.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return member


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root@example.com", PASSWORD)


@pytest.fixture
def viewer(db):
    return staff("viewer@example.com", "tokens.view_session", "accounts.view_user", "tokens.view_authevent")


@pytest.fixture
def revoker(db):
    return staff("revoker@example.com", "tokens.view_session", "accounts.view_user", "tokens.revoke_session")


def admin_client(member, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(member)
    return client


def revoke_post(client, url, ids, action="revoke_selected", csrf_token=None, **extra):
    data = {"action": action, "_selected_action": ids, "index": 0}
    if csrf_token:
        data["csrfmiddlewaretoken"] = csrf_token
    return client.post(url, data, **extra)


@pytest.fixture
def alice_tokens(api, user):
    return login(api, user.email, device_name="Alice's phone")


def sid(tokens) -> str:
    return claims(tokens["access"])["sid"]


def assert_refused(api, tokens):
    response = api.get("/api/auth/whoami", **bearer(tokens["access"]))
    assert response.status_code == 401 and error_code(response) == "session_revoked"


def assert_alive(api, tokens):
    assert api.get("/api/auth/whoami", **bearer(tokens["access"])).status_code == 200


# --- who may see and do what ---------------------------------------------------


def test_anonymous_is_sent_to_the_login_page(client):
    response = client.get(SESSIONS)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_non_staff_is_sent_to_the_login_page(user, alice_tokens):
    response = revoke_post(admin_client(user), SESSIONS, [sid(alice_tokens)])
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert Session.objects.get(pk=sid(alice_tokens)).revoked_at is None


def test_staff_without_the_permission_sees_no_action(viewer, alice_tokens):
    page = admin_client(viewer).get(SESSIONS)
    assert page.status_code == 200
    assert "Alice&#x27;s phone" in page.content.decode()
    assert "revoke_selected" not in page.content.decode()
    assert b'name="_selected_action"' not in page.content
    users_page = admin_client(viewer).get(USERS)
    assert "revoke_all_sessions" not in users_page.content.decode()


def test_staff_without_the_permission_is_refused_a_forced_post(api, viewer, user, alice_tokens):
    client = admin_client(viewer)
    assert revoke_post(client, SESSIONS, [sid(alice_tokens)]).status_code == 403
    assert revoke_post(client, USERS, [user.pk], action="revoke_all_sessions").status_code == 403
    assert_alive(api, alice_tokens)


@pytest.mark.parametrize("member", ["superuser", "revoker"])
def test_revoke_selected_reaches_redis_before_the_page_returns(api, request, member, alice_tokens, user):
    other = login(api, user.email, device_name="Laptop")
    acting = request.getfixturevalue(member)
    response = revoke_post(admin_client(acting), SESSIONS, [sid(alice_tokens)])
    assert response.status_code == 302
    assert_refused(api, alice_tokens)
    assert_alive(api, other)
    session = Session.objects.get(pk=sid(alice_tokens))
    assert session.revoke_reason == "admin" and session.revoked_by == acting
    event = AuthEvent.objects.get(kind="session_revoked", session_id=session.pk)
    assert event.actor == acting and event.reason == "admin"


def test_the_success_message_says_how_many(superuser, alice_tokens):
    page = revoke_post(admin_client(superuser), SESSIONS, [sid(alice_tokens)], follow=True)
    assert "1 session(s) revoked." in page.content.decode()


def test_revoke_all_sessions_of_a_user(api, revoker, user, other_user, alice_tokens):
    laptop = login(api, user.email)
    bob = login(api, other_user.email)
    response = revoke_post(admin_client(revoker), USERS, [user.pk], action="revoke_all_sessions")
    assert response.status_code == 302
    assert_refused(api, alice_tokens)
    assert_refused(api, laptop)
    assert_alive(api, bob)


def test_an_action_by_get_does_nothing(api, superuser, alice_tokens):
    client = admin_client(superuser)
    response = client.get(SESSIONS, {"action": "revoke_selected", "_selected_action": sid(alice_tokens)})
    assert response.status_code in (200, 302)
    assert_alive(api, alice_tokens)


def test_a_post_without_csrf_token_is_refused(api, superuser, alice_tokens):
    client = admin_client(superuser, enforce_csrf_checks=True)
    assert revoke_post(client, SESSIONS, [sid(alice_tokens)]).status_code == 403
    assert_alive(api, alice_tokens)
    page = client.get(SESSIONS).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert revoke_post(client, SESSIONS, [sid(alice_tokens)], csrf_token=token).status_code == 302
    assert_refused(api, alice_tokens)


def test_redis_down_is_an_admin_error_not_a_500(api, superuser, alice_tokens, token_settings):
    client = admin_client(superuser)
    token_settings(REDIS_URL="redis://127.0.0.1:1/0", REDIS_SOCKET_TIMEOUT=0.5)
    page = revoke_post(client, SESSIONS, [sid(alice_tokens)], follow=True)
    assert page.status_code == 200
    assert "revocation store (Redis) is unavailable" in page.content.decode()
    assert Session.objects.get(pk=sid(alice_tokens)).revoked_at is None


# --- read-only ------------------------------------------------------------------


def test_sessions_cannot_be_added_edited_or_deleted(superuser, alice_tokens):
    client = admin_client(superuser)
    change_url = f"{SESSIONS}{sid(alice_tokens)}/change/"
    assert client.get(f"{SESSIONS}add/").status_code == 403
    assert client.post(change_url, {"revoked_at": "", "revoke_reason": "", "device_name": "x"}).status_code == 403
    assert client.post(f"{SESSIONS}{sid(alice_tokens)}/delete/").status_code == 403
    assert "delete_selected" not in client.get(SESSIONS).content.decode()


def test_a_revoked_session_cannot_be_flipped_back(api, superuser, alice_tokens):
    client = admin_client(superuser)
    revoke_post(client, SESSIONS, [sid(alice_tokens)])
    change_url = f"{SESSIONS}{sid(alice_tokens)}/change/"
    form = {
        "revoked_at_0": "",
        "revoked_at_1": "",
        "revoke_reason": "",
        "refresh_tokens-TOTAL_FORMS": "1",
        "refresh_tokens-INITIAL_FORMS": "1",
        "refresh_tokens-0-is_revoked": "",
    }
    assert client.post(change_url, form).status_code == 403
    assert Session.objects.get(pk=sid(alice_tokens)).revoked_at is not None
    assert_refused(api, alice_tokens)


def test_the_session_page_shows_tokens_ids_but_never_token_strings(superuser, alice_tokens):
    page = admin_client(superuser).get(f"{SESSIONS}{sid(alice_tokens)}/change/").content.decode()
    assert claims(alice_tokens["refresh"])["jti"] in page
    assert alice_tokens["refresh"] not in page and alice_tokens["access"] not in page
    assert "revoke_reason" not in page or "<select" not in page


def test_the_user_page_never_shows_the_password_hash(superuser, user):
    page = admin_client(superuser).get(f"{USERS}{user.pk}/change/").content.decode()
    assert "Password set." in page
    assert user.password not in page
    salt_and_hash = user.password.split("$")[-2:]
    assert not any(part[:6] in page for part in salt_and_hash)


@pytest.mark.parametrize("state,expected", [("live", {"Live one"}), ("revoked", {"Ended one"}), ("expired", set())])
def test_sessions_filter_by_state(api, superuser, user, state, expected):
    live = login(api, user.email, device_name="Live one")
    ended = login(api, user.email, device_name="Ended one")
    api.post("/api/auth/logout", **bearer(ended["access"]))
    page = admin_client(superuser).get(SESSIONS, {"state": state}).content.decode()
    shown = {name for name in ("Live one", "Ended one") if name in page}
    assert shown == expected
    assert live


def test_sessions_search_by_email_ip_and_jti(superuser, alice_tokens, other_user, api):
    login(api, other_user.email, device_name="Bob's tablet")
    client = admin_client(superuser)
    by_email = client.get(SESSIONS, {"q": "alice@example.com"}).content.decode()
    assert "Alice&#x27;s phone" in by_email and "Bob&#x27;s tablet" not in by_email
    by_jti = client.get(SESSIONS, {"q": claims(alice_tokens["refresh"])["jti"]}).content.decode()
    assert "Alice&#x27;s phone" in by_jti and "Bob&#x27;s tablet" not in by_jti
    by_ip = client.get(SESSIONS, {"q": "127.0.0.1"}).content.decode()
    assert "Alice&#x27;s phone" in by_ip


# --- what staff changes end sessions ----------------------------------------------


def test_staff_setting_a_password_ends_every_session(api, superuser, user, alice_tokens):
    url = f"{USERS}{user.pk}/password/"
    new = "staff chosen passphrase 42"
    response = admin_client(superuser).post(url, {"password1": new, "password2": new, "set_usable_password": "true"})
    assert response.status_code == 302
    assert_refused(api, alice_tokens)
    assert User.objects.get(pk=user.pk).check_password(new)
    event = AuthEvent.objects.get(kind="password_changed")
    assert event.actor == superuser and event.user == user


def test_staff_password_change_with_redis_down_changes_nothing(api, superuser, user, alice_tokens, token_settings):
    client = admin_client(superuser)
    token_settings(REDIS_URL="redis://127.0.0.1:1/0", REDIS_SOCKET_TIMEOUT=0.5)
    new = "staff chosen passphrase 42"
    url = f"{USERS}{user.pk}/password/"
    page = client.post(url, {"password1": new, "password2": new, "set_usable_password": "true"}, follow=True)
    assert page.status_code == 200 and "is unavailable" in page.content.decode()
    assert User.objects.get(pk=user.pk).check_password(PASSWORD)


def test_staff_deactivating_a_user_ends_every_session(api, superuser, user, alice_tokens):
    client = admin_client(superuser)
    form = {
        "email": user.email,
        "username": "",
        "first_name": "",
        "last_name": "",
        "is_staff": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "00:00:00",
    }
    response = client.post(f"{USERS}{user.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert User.objects.get(pk=user.pk).is_active is False
    assert_refused(api, alice_tokens)


# --- auth events -------------------------------------------------------------------


def test_auth_events_are_listed_read_only_and_searchable(api, superuser, user, alice_tokens):
    api.post("/api/auth/login", {"email": "nobody@example.com", "password": "wrong"}, format="json")
    client = admin_client(superuser)
    page = client.get(EVENTS, {"kind__exact": "login_failed"}).content.decode()
    assert "nobody@example.com" in page and "1 auth event" in page
    found = client.get(EVENTS, {"q": "alice@example.com"}).content.decode()
    assert "Login succeeded" in found
    assert client.get(f"{EVENTS}add/").status_code == 403
    event = AuthEvent.objects.get(kind="login_succeeded")
    assert event.session_id == sid(alice_tokens) and event.details == {"device_name": "Alice's phone"}
    assert client.post(f"{EVENTS}{event.pk}/delete/").status_code == 403
    assert client.get(EVENTS, {"user__id__exact": user.pk}).status_code == 200


def test_events_never_hold_passwords_or_tokens(api, user, alice_tokens):
    api.post("/api/auth/login", {"email": user.email, "password": "wrong guess"}, format="json")
    dump = str(list(AuthEvent.objects.values()))
    for secret in ("wrong guess", PASSWORD, alice_tokens["access"], alice_tokens["refresh"]):
        assert secret not in dump


# --- the admin's own sessions ----------------------------------------------------------


def test_an_admin_login_keeps_its_session_in_redis_not_the_database(superuser):
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": superuser.email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    session_key = client.cookies["sessionid"].value
    redis_key = cache.make_key("django.contrib.sessions.cache" + session_key)
    assert get_redis_connection("default").exists(redis_key) == 1
    assert DjangoSession.objects.count() == 0
    assert client.get(SESSIONS).status_code == 200
