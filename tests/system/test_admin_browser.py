"""A staff member in a real browser (Debian's chromium) revokes a session from the admin."""

from pathlib import Path

import httpx
import pytest

from accounts.models import User
from tests.helpers import PASSWORD, make_user

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "artifacts"

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian chromium is not installed at /usr/bin/chromium "
        "(apt-get install -y chromium chromium-driver); .ci/run installs it",
    ),
    pytest.mark.live_server_process,
]


@pytest.fixture
def people(transactional_db, live_server) -> dict:
    """Staff, Alice on two devices, Bob on one: made before the browser starts, since
    Playwright's sync API runs an event loop in this thread and Django then refuses ORM calls."""
    base = live_server.url
    User.objects.create_superuser("staff@example.com", PASSWORD)
    make_user("alice@example.com")
    make_user("bob@example.com")
    return {
        "phone": api_login(base, "alice@example.com", "Alice's phone", "FlowAuthApp/3.2 (iPhone; iOS 18)"),
        "laptop": api_login(base, "alice@example.com", "Alice's laptop", "Mozilla/5.0 (X11; Linux) Firefox/140.0"),
        "tablet": api_login(base, "bob@example.com", "Bob's tablet", "FlowAuthApp/3.2 (Android 15)"),
    }


@pytest.fixture
def browser_page(settings, people):
    # The browser talks plain HTTP to the test server: cookies cannot be Secure-only here.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 640})
            page.set_default_timeout(20_000)
            yield page
        finally:
            browser.close()


def api_login(base: str, email: str, device: str, user_agent: str) -> dict:
    response = httpx.post(
        f"{base}/api/auth/login",
        json={"email": email, "password": PASSWORD, "device_name": device},
        headers={"User-Agent": user_agent},
    )
    assert response.status_code == 200, response.text
    return response.json()


def whoami(base: str, access: str) -> httpx.Response:
    return httpx.get(f"{base}/api/auth/whoami", headers={"Authorization": f"Bearer {access}"})


def test_staff_revokes_a_session_in_the_browser(live_server, people, browser_page):
    base = live_server.url
    phone, laptop, tablet = people["phone"], people["laptop"], people["tablet"]

    page = browser_page
    page.goto(f"{base}/admin/login/?next=/admin/tokens/session/")
    page.fill("#id_username", "staff@example.com")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.fill("#searchbar", "alice@example.com")
    page.press("#searchbar", "Enter")
    page.locator("#result_list tr", has_text="Alice's phone").locator("input.action-select").check()
    page.select_option("select[name=action]", "revoke_selected")
    page.click("button[name=index]")
    assert "1 session(s) revoked." in page.locator(".messagelist").inner_text()

    refused = whoami(base, phone["access"])
    assert refused.status_code == 401 and refused.json()["code"] == "session_revoked"
    assert whoami(base, laptop["access"]).status_code == 200
    assert whoami(base, tablet["access"]).status_code == 200

    page.goto(f"{base}/admin/tokens/session/")
    page.click("#toggle-nav-sidebar")  # more room for the list in the screenshot
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 3
    assert "revoked (Revoked by staff)" in rows.filter(has_text="Alice's phone").inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "admin-sessions.png"), full_page=True)
    assert (ARTIFACTS / "admin-sessions.png").stat().st_size > 10_000
