"""Session login: Django sessions in Redis (seed 002, docs/security.md CK-13)."""

import httpx
import pytest
from django.conf import settings
from django.contrib.sessions.backends.cache import SessionStore
from rest_framework.test import APIClient

from tests import servers
from tests.helpers import PASSWORD, bearer, error_code

LOGIN = "/api/session/login"
LOGOUT = "/api/session/logout"
PROFILE = "/api/auth/profile"


@pytest.fixture
def browser():
    """A client that enforces CSRF as a browser's requests would meet it."""
    return APIClient(enforce_csrf_checks=True)


def csrf(client) -> dict:
    token = client.get("/api/auth/csrf").json()["csrf_token"]
    return {"HTTP_X_CSRFTOKEN": token}


def session_login(client, email="alice@example.com", password=PASSWORD):
    return client.post(LOGIN, {"email": email, "password": password}, format="json", **csrf(client))


@pytest.mark.django_db
def test_login_sets_an_httponly_session_cookie_holding_only_the_id(browser, user):
    response = session_login(browser)
    assert response.status_code == 200 and response.json()["user"]["email"] == user.email
    assert "access" not in response.json() and "refresh" not in response.json()
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert bool(cookie["secure"]) == settings.COOKIE_SECURE
    assert SessionStore(session_key=cookie.value).load()["_auth_user_id"] == str(user.pk)


@pytest.mark.django_db
def test_the_session_lives_in_redis_not_the_database(browser, user, redis_client):
    key = session_login(browser).cookies[settings.SESSION_COOKIE_NAME].value
    assert any(key in str(name) for name in redis_client.keys("*django.contrib.sessions*"))
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cache"


@pytest.mark.django_db
def test_login_rotates_a_planted_session_id(browser, user):
    planted = SessionStore()
    planted["cart"] = "x"
    planted.save()
    browser.cookies[settings.SESSION_COOKIE_NAME] = planted.session_key
    issued = session_login(browser).cookies[settings.SESSION_COOKIE_NAME].value
    assert issued != planted.session_key
    assert not SessionStore().exists(planted.session_key)


@pytest.mark.django_db
def test_a_session_reads_the_protected_profile(browser, user):
    session_login(browser)
    response = browser.get(PROFILE)
    assert response.status_code == 200 and response.json()["email"] == user.email
    whoami = browser.get("/api/auth/whoami").json()
    assert whoami == {"user_id": user.pk, "session_id": None, "expires_at": None}


@pytest.mark.django_db
def test_state_changing_requests_need_the_csrf_token(browser, user):
    session_login(browser)
    assert browser.patch(PROFILE, {"first_name": "A"}, format="json").status_code == 403
    token = browser.cookies[settings.CSRF_COOKIE_NAME].value
    ok = browser.patch(PROFILE, {"first_name": "A"}, format="json", HTTP_X_CSRFTOKEN=token)
    assert ok.status_code == 200 and ok.json()["first_name"] == "A"
    assert browser.post(LOGOUT).status_code == 403


@pytest.mark.django_db
def test_login_without_csrf_is_refused(browser, user):
    response = browser.post(LOGIN, {"email": user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 403


@pytest.mark.django_db
def test_logout_flushes_the_session_from_redis(browser, user):
    key = session_login(browser).cookies[settings.SESSION_COOKIE_NAME].value
    token = browser.cookies[settings.CSRF_COOKIE_NAME].value
    response = browser.post(LOGOUT, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 204
    assert not SessionStore().exists(key)
    replay = APIClient()
    replay.cookies[settings.SESSION_COOKIE_NAME] = key
    assert replay.get(PROFILE).status_code == 401


@pytest.mark.django_db
def test_token_logout_with_a_django_session_ends_that_session(browser, user):
    key = session_login(browser).cookies[settings.SESSION_COOKIE_NAME].value
    token = browser.cookies[settings.CSRF_COOKIE_NAME].value
    assert browser.post("/api/auth/logout", HTTP_X_CSRFTOKEN=token).status_code == 204
    assert not SessionStore().exists(key)


@pytest.mark.django_db
def test_wrong_password_and_unknown_email_are_one_answer(browser, user):
    wrong = session_login(browser, password="nope")
    unknown = session_login(browser, email="nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert error_code(wrong) == error_code(unknown) == "invalid_credentials"


@pytest.mark.django_db
def test_without_a_session_protected_views_answer_401(api):
    response = api.get(PROFILE)
    assert response.status_code == 401 and error_code(response) == "not_authenticated"
    assert api.post(LOGOUT).status_code == 401


@pytest.mark.django_db
def test_bearer_requests_still_cost_no_session_lookup(api, session_tokens, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert api.get("/api/auth/whoami", **bearer(session_tokens["access"])).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_another_server_process_sees_the_session(browser, user):
    key = session_login(browser).cookies[settings.SESSION_COOKIE_NAME].value
    cookie = {settings.SESSION_COOKIE_NAME: key}
    with servers.gunicorn(workers=1, threads=2, COOKIE_SECURE=0) as base:
        response = httpx.get(f"{base}{PROFILE}", cookies=cookie)
        assert response.status_code == 200 and response.json()["email"] == user.email
        csrf_token = httpx.get(f"{base}/api/auth/csrf").json()["csrf_token"]
        logout = httpx.post(
            f"{base}{LOGOUT}",
            cookies={**cookie, settings.CSRF_COOKIE_NAME: csrf_token},
            headers={"X-CSRFToken": csrf_token, "Origin": base},
        )
        assert logout.status_code == 204
    assert not SessionStore().exists(key)
