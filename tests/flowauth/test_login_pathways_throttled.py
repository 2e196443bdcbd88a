"""Every door that checks a password is throttled, with one shared budget (docs/security.md BF-06, BF-15, ADM-10)."""

import pytest
from django.test import Client

from tests.helpers import PASSWORD, bearer, error_code, login

pytestmark = [pytest.mark.django_db, pytest.mark.throttles]


@pytest.fixture
def five_per_minute(settings):
    settings.FLOWAUTH_THROTTLE_RATES = {
        **settings.FLOWAUTH_THROTTLE_RATES,
        "login_email": "5/min",
        "login_ip": "100/min",
        "password_user": "5/min",
    }


def wrong(email: str) -> dict:
    return {"email": email, "password": "wrong password"}


def assert_throttled(response):
    assert response.status_code == 429, response.content
    assert 1 <= int(response["Retry-After"]) <= 60


def test_session_login_is_throttled_per_account(api, user, five_per_minute):
    answers = [api.post("/api/session/login", wrong(user.email), format="json").status_code for _ in range(5)]
    assert answers == [401] * 5
    response = api.post("/api/session/login", {"email": user.email, "password": PASSWORD}, format="json")
    assert_throttled(response)
    assert error_code(response) == "throttled"


def test_api_and_session_login_share_one_budget(api, user, five_per_minute):
    for _ in range(3):
        assert api.post("/api/auth/login", wrong(user.email), format="json").status_code == 401
    for _ in range(2):
        assert api.post("/api/session/login", wrong(user.email), format="json").status_code == 401
    assert_throttled(api.post("/api/auth/login", wrong(user.email), format="json"))
    assert_throttled(api.post("/api/session/login", wrong(user.email), format="json"))


def test_the_admin_login_is_throttled_with_the_same_counters(user, five_per_minute, api):
    staff = Client()
    for _ in range(4):
        page = staff.post("/admin/login/", {"username": user.email, "password": "wrong password"})
        assert page.status_code == 200  # the form again, with its error
    assert api.post("/api/auth/login", wrong(user.email), format="json").status_code == 401
    response = staff.post("/admin/login/", {"username": user.email, "password": PASSWORD})
    assert_throttled(response)
    assert "sessionid" not in response.cookies
    assert staff.get("/admin/login/").status_code == 200  # the page itself still shows


def test_the_admin_login_fails_closed_without_the_throttle_store(user, settings):
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {**settings.CACHES["default"]["OPTIONS"], "SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    response = Client().post("/admin/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 503 and response["Retry-After"]


def test_wrong_current_passwords_are_throttled_per_account(api, user, five_per_minute):
    access = login(api, user.email)["access"]
    body = {"current_password": "wrong password", "new_password": "a brand new passphrase 42"}
    for _ in range(5):
        assert api.put("/api/auth/profile/password", body, format="json", **bearer(access)).status_code == 400
    response = api.put(
        "/api/auth/profile/password", {**body, "current_password": PASSWORD}, format="json", **bearer(access)
    )
    assert_throttled(response)
    assert error_code(response) == "throttled"
