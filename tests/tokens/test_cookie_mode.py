"""Cookie mode for browsers (seed 001; docs/security.md CK-01..09, CK-12, BRR-07)."""

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests.helpers import PASSWORD, bearer, claims, error_code, login

pytestmark = pytest.mark.django_db

COOKIE_MODE = {"HTTP_X_AUTH_MODE": "cookie"}
SECURE_ACCESS, SECURE_REFRESH = "__Host-flowauth_access", "__Secure-flowauth_refresh"
PROFILE = "/api/auth/profile"


@pytest.fixture
def browser():
    return APIClient(enforce_csrf_checks=True)


def cookie_login(client, email="alice@example.com"):
    response = client.post("/api/auth/login", {"email": email, "password": PASSWORD}, format="json", **COOKIE_MODE)
    assert response.status_code == 200, response.content
    return response


def csrf(client) -> dict:
    return {"HTTP_X_CSRFTOKEN": client.cookies[settings.CSRF_COOKIE_NAME].value}


def test_login_sets_hardened_cookies(browser, user, settings):
    settings.COOKIE_SECURE = True
    response = cookie_login(browser)
    access, refresh = response.cookies[SECURE_ACCESS], response.cookies[SECURE_REFRESH]
    assert access["path"] == "/" and refresh["path"] == "/api/auth/refresh"
    for cookie in (access, refresh):
        assert cookie["httponly"] and cookie["secure"]
        assert cookie["samesite"] == "Strict"
        assert not cookie["domain"]
        assert len(cookie.key) + len(cookie.value) <= 4096
    assert response.cookies[settings.CSRF_COOKIE_NAME].value
    assert response["Cache-Control"] == "no-store"


def test_max_age_does_not_pass_the_token_expiry(browser, user, token_settings):
    token_settings(ACCESS_TOKEN_LIFETIME=300, SESSION_MAX_AGE=3600)
    response = cookie_login(browser)
    access, refresh = response.cookies[SECURE_ACCESS], response.cookies[SECURE_REFRESH]
    access_claims, refresh_claims = claims(access.value), claims(refresh.value)
    assert 0 < int(access["max-age"]) <= access_claims["exp"] - access_claims["iat"] == 300
    assert 0 < int(refresh["max-age"]) <= refresh_claims["exp"] - refresh_claims["iat"] <= 3600


def test_the_body_carries_no_token(browser, user):
    response = cookie_login(browser)
    body = response.content.decode()
    assert "access" not in response.json() and "refresh" not in response.json()
    for cookie in response.cookies.values():
        if cookie.value and cookie.key != settings.CSRF_COOKIE_NAME:
            assert cookie.value not in body


def test_without_secure_the_names_drop_their_prefixes(browser, user, settings):
    settings.COOKIE_SECURE = False
    response = cookie_login(browser)
    assert not response.cookies["flowauth_access"]["secure"]
    assert response.cookies["flowauth_refresh"]["path"] == "/api/auth/refresh"
    assert SECURE_ACCESS not in response.cookies
    assert browser.get(PROFILE).status_code == 200


def test_without_the_mode_header_tokens_stay_in_the_body(api, user):
    response = api.post("/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json")
    assert {"access", "refresh"} <= set(response.json()) and not response.cookies


def test_the_access_cookie_authenticates_reads(browser, user):
    cookie_login(browser)
    response = browser.get(PROFILE)
    assert response.status_code == 200 and response.json()["email"] == user.email


def test_cookie_writes_need_the_csrf_token(browser, user):
    cookie_login(browser)
    refused = browser.patch(PROFILE, {"first_name": "A"}, format="json")
    assert refused.status_code == 403
    foreign = browser.patch(
        PROFILE, {"first_name": "A"}, format="json", HTTP_ORIGIN="https://evil.example", **csrf(browser)
    )
    assert foreign.status_code == 403
    accepted = browser.patch(PROFILE, {"first_name": "A"}, format="json", **csrf(browser))
    assert accepted.status_code == 200


def test_bearer_writes_need_no_csrf(user):
    client = APIClient(enforce_csrf_checks=True)
    tokens = login(client, user.email)
    assert client.patch(PROFILE, {"first_name": "B"}, format="json", **bearer(tokens["access"])).status_code == 200


@pytest.mark.parametrize("value", ["", "garbage", "a.b.c"])
def test_a_missing_or_bad_cookie_is_401_never_403(browser, value):
    browser.cookies[SECURE_ACCESS] = value
    for response in (browser.get(PROFILE), browser.post("/api/auth/logout")):
        assert response.status_code == 401
        assert error_code(response) in ("not_authenticated", "token_invalid")


def test_refresh_reads_the_cookie_and_is_csrf_protected(browser, user):
    first = cookie_login(browser).cookies[SECURE_REFRESH].value
    assert browser.post("/api/auth/refresh").status_code == 403
    response = browser.post("/api/auth/refresh", **csrf(browser))
    assert response.status_code == 200 and set(response.json()) == {"access_expires_at", "refresh_expires_at"}
    rotated = response.cookies[SECURE_REFRESH]
    assert rotated.value != first and rotated["path"] == "/api/auth/refresh"
    assert browser.get(PROFILE).status_code == 200


def test_logout_clears_both_cookies_and_the_old_value_is_refused(browser, user):
    old_access = cookie_login(browser).cookies[SECURE_ACCESS].value
    response = browser.post("/api/auth/logout", **csrf(browser))
    assert response.status_code == 204
    for name, path in ((SECURE_ACCESS, "/"), (SECURE_REFRESH, "/api/auth/refresh")):
        cleared = response.cookies[name]
        assert (cleared.value, cleared["path"], str(cleared["max-age"])) == ("", path, "0")
    replay = APIClient()
    replay.cookies[SECURE_ACCESS] = old_access
    refused = replay.get(PROFILE)
    assert refused.status_code == 401 and error_code(refused) == "session_revoked"


def test_logout_by_get_is_405(browser, user):
    cookie_login(browser)
    assert browser.get("/api/auth/logout").status_code == 405
    assert browser.get(PROFILE).status_code == 200


def test_the_header_wins_over_the_cookie(browser, user, other_user):
    cookie_login(browser, user.email)
    bob = login(APIClient(), other_user.email)
    response = browser.get(PROFILE, **bearer(bob["access"]))
    assert response.json()["email"] == other_user.email
    # and a Bearer write is judged by the header alone: no CSRF needed
    assert browser.patch(PROFILE, {"first_name": "Bob"}, format="json", **bearer(bob["access"])).status_code == 200


def test_a_bad_header_is_not_rescued_by_a_good_cookie(browser, user):
    cookie_login(browser)
    response = browser.get(PROFILE, HTTP_AUTHORIZATION="Bearer garbage")
    assert response.status_code == 401 and error_code(response) == "token_invalid"
