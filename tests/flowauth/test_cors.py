"""No cross-origin access for a foreign origin, with or without credentials (docs/security.md CK-07).

A browser only lets https://evil.example read a response (or send the
X-Auth-Mode header at all) when the server grants it with Access-Control-*
headers. FlowAuth grants none: neither on a preflight nor on the request itself,
so no origin is reflected and credentials are never allowed.
"""

import pytest

from tests.helpers import PASSWORD, login

pytestmark = pytest.mark.django_db

COOKIE_MODE = {"HTTP_X_AUTH_MODE": "cookie"}
MODES = {"bearer": {}, "cookie": COOKIE_MODE}
ORIGINS = ["https://evil.example", "null"]


def assert_no_cors_grant(response):
    assert response.status_code < 500, response.content
    granted = [name for name in response.headers if name.lower().startswith("access-control-")]
    assert granted == [], granted


@pytest.mark.parametrize("mode", MODES, ids=MODES.keys())
@pytest.mark.parametrize("origin", ORIGINS)
@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/refresh"])
def test_a_preflight_from_a_foreign_origin_is_granted_nothing(api, path, origin, mode):
    response = api.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type, x-auth-mode",
        **MODES[mode],
    )
    assert_no_cors_grant(response)


@pytest.mark.parametrize("mode", MODES, ids=MODES.keys())
@pytest.mark.parametrize("origin", ORIGINS)
def test_a_cross_origin_login_that_succeeds_still_grants_the_origin_nothing(api, user, origin, mode):
    response = api.post(
        "/api/auth/login",
        {"email": user.email, "password": PASSWORD},
        format="json",
        HTTP_ORIGIN=origin,
        **MODES[mode],
    )
    assert response.status_code == 200, response.content  # the request itself works; the browser may not read it
    assert_no_cors_grant(response)


@pytest.mark.parametrize("mode", MODES, ids=MODES.keys())
@pytest.mark.parametrize("origin", ORIGINS)
def test_a_cross_origin_refresh_that_succeeds_still_grants_the_origin_nothing(api, user, origin, mode):
    refresh = login(api, user.email)["refresh"]
    response = api.post("/api/auth/refresh", {"refresh": refresh}, format="json", HTTP_ORIGIN=origin, **MODES[mode])
    assert response.status_code == 200, response.content
    assert ("refresh" in response.json()) is (mode == "bearer")  # cookie mode really was used
    assert_no_cors_grant(response)


def test_a_failed_cross_origin_refresh_grants_nothing_either(api):
    response = api.post(
        "/api/auth/refresh", {"refresh": "x.y.z"}, format="json", HTTP_ORIGIN="https://evil.example", **COOKIE_MODE
    )
    assert response.status_code == 401
    assert_no_cors_grant(response)
