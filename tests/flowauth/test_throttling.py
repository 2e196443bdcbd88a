"""Login, registration and refresh are throttled, atomically, across processes."""

from collections import Counter

import httpx
import pytest

from tests.helpers import PASSWORD, burst, error_code, login, make_user
from tests.servers import gunicorn

pytestmark = [pytest.mark.django_db, pytest.mark.throttles]

LOGIN = "/api/auth/login"


@pytest.fixture
def rates(settings):
    def apply(**values):
        settings.FLOWAUTH_THROTTLE_RATES = {**settings.FLOWAUTH_THROTTLE_RATES, **values}

    return apply


def wrong_login(api, email="alice@example.com", **extra):
    return api.post(LOGIN, {"email": email, "password": "wrong password"}, format="json", **extra)


def assert_throttled(response):
    assert response.status_code == 429, response.content
    assert error_code(response) == "throttled"
    assert response["Retry-After"].isdigit() and 1 <= int(response["Retry-After"]) <= 60


def test_the_sixth_wrong_login_for_one_email_is_429_before_hashing(api, user, rates, hasher_calls):
    rates(login_email="5/min", login_ip="100/min")
    assert [wrong_login(api).status_code for _ in range(5)] == [401] * 5
    hashed = len(hasher_calls)
    response = wrong_login(api)
    assert_throttled(response)
    assert len(hasher_calls) == hashed, "a throttled attempt must not reach the hasher"
    # The right password does not get through either while the window lasts.
    assert api.post(LOGIN, {"email": user.email, "password": PASSWORD}, format="json").status_code == 429


def test_the_email_limit_holds_whatever_the_source_address_and_case(api, user, rates):
    rates(login_email="5/min", login_ip="100/min")
    for index in range(5):
        email = user.email.upper() if index % 2 else user.email
        assert wrong_login(api, email, REMOTE_ADDR=f"10.0.0.{index}").status_code == 401
    assert_throttled(wrong_login(api, REMOTE_ADDR="10.9.9.9"))


def test_one_ip_trying_many_emails_is_throttled(api, rates):
    rates(login_email="100/min", login_ip="5/min")
    for index in range(5):
        assert wrong_login(api, f"user{index}@example.com").status_code == 401
    assert_throttled(wrong_login(api, "someone-else@example.com"))
    # Another client is not affected.
    assert wrong_login(api, "someone-else@example.com", REMOTE_ADDR="10.1.1.1").status_code == 401


def test_rotating_x_forwarded_for_does_not_escape_the_ip_limit(api, rates):
    rates(login_email="100/min", login_ip="5/min")
    statuses = [
        wrong_login(api, f"user{index}@example.com", HTTP_X_FORWARDED_FOR=f"203.0.113.{index}").status_code
        for index in range(8)
    ]
    assert statuses == [401] * 5 + [429] * 3


def test_behind_a_trusted_proxy_the_forwarded_client_address_is_the_identity(api, rates, settings):
    rates(login_email="100/min", login_ip="2/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    for client_ip in ("203.0.113.1", "203.0.113.2"):
        statuses = [wrong_login(api, f"{i}@example.com", HTTP_X_FORWARDED_FOR=client_ip).status_code for i in range(3)]
        assert statuses == [401, 401, 429], client_ip


def test_registration_is_throttled_per_ip(api, rates):
    rates(register_ip="3/min")
    bodies = [{"email": f"new{i}@example.com", "password": PASSWORD} for i in range(4)]
    statuses = [api.post("/api/auth/register", body, format="json").status_code for body in bodies]
    assert statuses == [201, 201, 201, 429]


def test_refresh_is_throttled_per_ip(api, user, rates):
    rates(refresh_ip="3/min")
    refresh = login(api, user.email)["refresh"]
    for _ in range(3):
        response = api.post("/api/auth/refresh", {"refresh": refresh}, format="json")
        assert response.status_code == 200
        refresh = response.json()["refresh"]
    assert_throttled(api.post("/api/auth/refresh", {"refresh": refresh}, format="json"))


def test_with_the_throttle_store_down_login_is_503_never_unlimited(api, user, settings, hasher_calls):
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {**settings.CACHES["default"]["OPTIONS"], "SOCKET_CONNECT_TIMEOUT": 0.5},
        },
    }
    responses = [wrong_login(api) for _ in range(3)]
    assert {r.status_code for r in responses} == {503}
    assert {error_code(r) for r in responses} == {"auth_unavailable"}
    assert all(int(r["Retry-After"]) > 0 for r in responses)
    assert not hasher_calls


@pytest.mark.django_db(transaction=True)
def test_fifty_parallel_wrong_passwords_reach_the_hasher_five_times(rates, hasher_calls):
    from rest_framework.test import APIClient

    make_user("burst@example.com")
    hasher_calls.clear()  # creating the user hashed its password
    rates(login_email="5/min", login_ip="1000/min")
    statuses = burst([lambda: wrong_login(APIClient(), "burst@example.com").status_code] * 50)
    assert Counter(statuses) == {401: 5, 429: 45}
    assert len(hasher_calls) == 5


@pytest.mark.live_server_process
@pytest.mark.django_db(transaction=True)
def test_throttle_counts_are_shared_by_every_process_even_under_a_parallel_burst():
    make_user("shared@example.com")
    body = {"email": "shared@example.com", "password": "wrong password"}
    with gunicorn(workers=2, threads=8, LOGIN_THROTTLE_RATE="5/min", LOGIN_IP_THROTTLE_RATE="1000/min") as server_a:
        # Fresh connections: the attempts spread over both worker processes.
        assert [httpx.post(f"{server_a}{LOGIN}", json=body).status_code for _ in range(5)] == [401] * 5
        refused = httpx.post(f"{server_a}{LOGIN}", json=body)
        assert refused.status_code == 429 and refused.headers["Retry-After"].isdigit()

        other = {"email": "burst@example.com", "password": "wrong password"}

        def attempt():
            with httpx.Client(timeout=60) as client:
                return client.post(f"{server_a}{LOGIN}", json=other).status_code

        statuses = burst([attempt] * 30)
        assert Counter(statuses) == {401: 5, 429: 25}
