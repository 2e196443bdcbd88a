"""Ending access on one server process is enforced by another, for every kind of credential.

Bearer tokens, cookie-mode cookies, session logins and admin logins, each
obtained over HTTP from real gunicorn processes; every way of ending access
goes through server A, every check through server B, then again after Redis
lost its data (docs/security.md REV-17).
"""

import re

import httpx
import pytest
from django.contrib.auth import get_user_model

from tests.helpers import PASSWORD, make_user
from tests.servers import gunicorn
from tokens import services
from tokens.models import RevokeReason

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live_server_process]

NEW_PASSWORD = "an entirely new passphrase 42"


class Browser:
    """Keeps cookies itself: the servers mark them Secure, which httpx would not send over http."""

    def __init__(self, base: str):
        self.base, self.jar = base, {}

    def request(self, method: str, path: str, base: str | None = None, **kwargs) -> httpx.Response:
        headers = {**kwargs.pop("headers", {}), "Cookie": "; ".join(f"{k}={v}" for k, v in self.jar.items())}
        response = httpx.request(method, f"{base or self.base}{path}", headers=headers, timeout=30, **kwargs)
        for name, value in response.cookies.items():
            if value:
                self.jar[name] = value
            else:
                self.jar.pop(name, None)
        return response

    def csrf(self) -> str:
        return self.request("GET", "/api/auth/csrf").json()["csrf_token"]


def bearer_login(base: str, email: str) -> dict:
    response = httpx.post(f"{base}/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()


def cookie_login(base: str, email: str) -> Browser:
    browser = Browser(base)
    response = browser.request(
        "POST", "/api/auth/login", json={"email": email, "password": PASSWORD}, headers={"X-Auth-Mode": "cookie"}
    )
    assert response.status_code == 200 and "access" not in response.json(), response.text
    return browser


def session_login(base: str, email: str) -> Browser:
    browser = Browser(base)
    token = browser.csrf()
    response = browser.request(
        "POST", "/api/session/login", json={"email": email, "password": PASSWORD}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 200, response.text
    return browser


def admin_login(base: str, email: str) -> Browser:
    browser = Browser(base)
    page = browser.request("GET", "/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = browser.request(
        "POST",
        "/admin/login/?next=/admin/",
        data={"username": email, "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302 and response.headers["location"] == "/admin/", response.text
    return browser


def alive(base: str, credentials: dict) -> dict:
    """Which credentials server ``base`` still accepts."""
    access = credentials["bearer"]["access"]
    return {
        "bearer": httpx.get(f"{base}/api/auth/whoami", headers={"Authorization": f"Bearer {access}"}).status_code,
        "refresh": httpx.post(
            f"{base}/api/auth/refresh", json={"refresh": credentials["bearer"]["refresh"]}
        ).status_code,
        "cookie": credentials["cookie"].request("GET", "/api/auth/whoami", base=base).status_code,
        "session login": credentials["session"].request("GET", "/api/auth/whoami", base=base).status_code,
        "admin login": credentials["admin"].request("GET", "/admin/", base=base).status_code,
    }


LIVE = {"bearer": 200, "refresh": 200, "cookie": 200, "session login": 200, "admin login": 200}
ENDED = {"bearer": 401, "refresh": 401, "cookie": 401, "session login": 401, "admin login": 302}


def end(way: str, base: str, user, credentials: dict) -> None:
    auth = {"Authorization": f"Bearer {credentials['bearer']['access']}"}
    if way == "logout-all":
        assert httpx.post(f"{base}/api/auth/logout-all", headers=auth).status_code == 204
    elif way == "password change":
        response = httpx.put(
            f"{base}/api/auth/profile/password",
            headers=auth,
            json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        )
        assert response.status_code == 200, response.text
    elif way == "staff revoke-all":
        services.revoke_all_for_user(user, reason=RevokeReason.ADMIN)
    elif way == "deactivation":
        get_user_model().objects.filter(pk=user.pk).update(is_active=False)


def test_every_way_of_ending_access_is_enforced_by_another_process_for_every_credential(redis_client):
    with gunicorn(workers=1) as server_a, gunicorn(workers=1) as server_b:
        for index, way in enumerate(["logout-all", "password change", "staff revoke-all", "deactivation"]):
            user = make_user(f"staff{index}@example.com", is_staff=True, is_superuser=True)
            credentials = {
                "bearer": bearer_login(server_a, user.email),
                "cookie": cookie_login(server_a, user.email),
                "session": session_login(server_a, user.email),
                "admin": admin_login(server_a, user.email),
            }
            spare = bearer_login(server_a, user.email)  # checked on B after the ending only
            assert alive(server_b, {**credentials, "bearer": spare}) == LIVE, way
            end(way, server_a, user, credentials)
            assert alive(server_b, credentials) == ENDED, way
            redis_client.flushdb()  # Redis lost everything: the rebuild must restore the cut-off
            assert alive(server_b, credentials) == ENDED, way


def test_logout_others_on_one_process_keeps_only_the_caller_on_another(redis_client):
    user = make_user("erin@example.com", is_staff=True, is_superuser=True)
    with gunicorn(workers=1) as server_a, gunicorn(workers=1) as server_b:
        this = bearer_login(server_a, user.email)
        others = {
            "bearer": bearer_login(server_a, user.email),
            "cookie": cookie_login(server_a, user.email),
            "session": session_login(server_a, user.email),
            "admin": admin_login(server_a, user.email),
        }
        response = httpx.post(
            f"{server_a}/api/auth/logout-others", headers={"Authorization": f"Bearer {this['access']}"}
        )
        assert response.status_code == 204
        for flushed in (False, True):
            if flushed:
                redis_client.flushdb()
            kept = httpx.get(f"{server_b}/api/auth/whoami", headers={"Authorization": f"Bearer {this['access']}"})
            assert kept.status_code == 200
            assert alive(server_b, others) == ENDED
