"""A staff member with a second factor signs in to the admin in a real browser (Debian's chromium): two steps."""

import time

import httpx
import pyotp
import pytest

from accounts.models import User
from tests.helpers import PASSWORD
from tests.system.test_admin_browser import CHROMIUM

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian chromium is not installed at /usr/bin/chromium "
        "(apt-get install -y chromium chromium-driver); .ci/run installs it",
    ),
    pytest.mark.live_server_process,
    pytest.mark.staff_mfa,
]


@pytest.fixture
def staff_secret(transactional_db, live_server) -> str:
    """A superuser with a confirmed TOTP factor, enrolled through the API before the browser starts."""
    base = live_server.url
    User.objects.create_superuser("staff@example.com", PASSWORD)
    tokens = httpx.post(f"{base}/api/auth/login", json={"email": "staff@example.com", "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {tokens['access']}"}
    secret = httpx.post(f"{base}/api/auth/mfa/totp", headers=headers).json()["secret"]
    confirmed = httpx.post(
        f"{base}/api/auth/mfa/totp/confirm", headers=headers, json={"code": pyotp.TOTP(secret).now()}
    )
    assert confirmed.status_code == 200, confirmed.text
    return secret


@pytest.fixture
def browser_page(settings, staff_secret):
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            yield page
        finally:
            browser.close()


def test_staff_sign_in_to_the_admin_with_password_then_code(live_server, staff_secret, browser_page):
    base, page = live_server.url, browser_page
    page.goto(f"{base}/admin/login/?next=/admin/accounts/user/")
    page.fill("#id_username", "staff@example.com")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    # The second step: no admin yet.
    assert page.locator("#id_code").is_visible()
    page.fill("#id_code", "000000")
    page.click("input[type=submit]")
    assert "invalid or has expired" in page.locator(".errornote").inner_text()
    # The next step's code: one step of skew is accepted, and the enrolment used the current one.
    page.fill("#id_code", pyotp.TOTP(staff_secret).at(time.time() + 30))
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/accounts/user/")
    row = page.locator("#result_list tr", has_text="staff@example.com")
    assert row.count() == 1
    # The factor shows as a yes, never as its secret.
    assert staff_secret not in page.content()
