"""Cookie mode in a real browser: headless Chromium against gunicorn (CK-08, CK-10, CK-11).

The page is served by the test itself (a Playwright route on the server's
origin), so its fetch calls are same-origin as a real front end's would be.
Dev mode: COOKIE_SECURE=0 over http://127.0.0.1, hence the unprefixed names.
"""

import os

import httpx
import pytest

from tests import servers
from tests.helpers import PASSWORD, make_user

CHROMIUM = "/usr/bin/chromium"

pytestmark = [
    pytest.mark.live_server_process,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed (apt-get install chromium)"),
]

PAGE = "<!doctype html><title>FlowAuth cookie mode</title><p>test page</p>"

# Small helpers the page would have: fetch JSON, send the CSRF token on writes.
SCRIPT = """
async ([path, method, body, cookieMode]) => {
  const csrf = (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1];
  const headers = {"Content-Type": "application/json"};
  if (cookieMode) headers["X-Auth-Mode"] = "cookie";
  if (csrf && method !== "GET") headers["X-CSRFToken"] = csrf;
  const response = await fetch(path, {method, headers, body: body ? JSON.stringify(body) : undefined});
  const text = await response.text();
  return {status: response.status, text, documentCookie: document.cookie};
}
"""


@pytest.fixture
def gunicorn_server(transactional_db):
    make_user("alice@example.com")
    with servers.gunicorn(workers=1, threads=4, COOKIE_SECURE=0) as base:
        yield base


@pytest.fixture
def page(gunicorn_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context()
        page = context.new_page()
        page.route(f"{gunicorn_server}/app", lambda route: route.fulfill(body=PAGE, content_type="text/html"))
        page.goto(f"{gunicorn_server}/app")
        yield page
        browser.close()


def call(page, path, method="GET", body=None, cookie_mode=False) -> dict:
    return page.evaluate(SCRIPT, [path, method, body, cookie_mode])


def cookies_by_name(page) -> dict:
    return {cookie["name"]: cookie for cookie in page.context.cookies()}


def test_a_browser_logs_in_reads_refreshes_and_logs_out_with_cookies(page, gunicorn_server):
    login = call(page, "/api/auth/login", "POST", {"email": "alice@example.com", "password": PASSWORD}, True)
    assert login["status"] == 200 and '"access"' not in login["text"] and '"refresh"' not in login["text"]
    jar = cookies_by_name(page)
    access, refresh = jar["flowauth_access"], jar["flowauth_refresh"]
    assert access["httpOnly"] and refresh["httpOnly"] and access["sameSite"] == "Strict"
    assert (access["path"], refresh["path"]) == ("/", "/api/auth/refresh")
    assert "flowauth_access" not in login["documentCookie"]  # HttpOnly: invisible to scripts

    with page.expect_request("**/api/auth/profile") as profile_request:
        profile = call(page, "/api/auth/profile")
    assert profile["status"] == 200 and "alice@example.com" in profile["text"]
    sent = profile_request.value.all_headers().get("cookie", "")
    assert "flowauth_access=" in sent and "flowauth_refresh=" not in sent

    refreshed = call(page, "/api/auth/refresh", "POST", None, True)
    assert refreshed["status"] == 200 and '"refresh"' not in refreshed["text"]
    assert cookies_by_name(page)["flowauth_refresh"]["value"] != refresh["value"]
    old_access = cookies_by_name(page)["flowauth_access"]["value"]

    logout = call(page, "/api/auth/logout", "POST", None, True)
    assert logout["status"] == 204
    assert not {"flowauth_access", "flowauth_refresh"} & set(cookies_by_name(page))
    assert call(page, "/api/auth/profile")["status"] == 401

    replay = httpx.get(f"{gunicorn_server}/api/auth/profile", cookies={"flowauth_access": old_access})
    assert replay.status_code == 401 and replay.json()["code"] == "session_revoked"


def test_a_cookie_write_without_the_csrf_token_is_refused(page):
    call(page, "/api/auth/login", "POST", {"email": "alice@example.com", "password": PASSWORD}, True)
    page.context.clear_cookies(name="csrftoken")
    assert call(page, "/api/auth/logout", "POST")["status"] == 403
    assert call(page, "/api/auth/profile")["status"] == 200


def test_a_cross_site_form_post_to_refresh_carries_no_cookie(page, gunicorn_server):
    call(page, "/api/auth/login", "POST", {"email": "alice@example.com", "password": PASSWORD}, True)
    before = cookies_by_name(page)["flowauth_refresh"]["value"]
    # localhost and 127.0.0.1 are different sites: this page is the attacker's.
    evil_origin = gunicorn_server.replace("127.0.0.1", "localhost")
    form = (
        f'<form method="post" action="{gunicorn_server}/api/auth/refresh">'
        '<input name="x" value="1"></form><script>document.forms[0].submit()</script>'
    )
    evil = page.context.new_page()
    evil.route(f"{evil_origin}/evil", lambda route: route.fulfill(body=form, content_type="text/html"))
    with evil.expect_request("**/api/auth/refresh") as forged:
        evil.goto(f"{evil_origin}/evil")
    assert "flowauth_refresh" not in forged.value.all_headers().get("cookie", "")
    assert forged.value.response().status == 400  # no cookie, no body token: nothing rotated
    assert cookies_by_name(page)["flowauth_refresh"]["value"] == before
