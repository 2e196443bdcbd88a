"""Django's error pages never show a secret setting, a POSTed value or a token, DEBUG included.

Django's own test client answers 404s with its technical page under
override_settings(DEBUG=True) only partly as runserver does, so the JSON
answers are checked on a real ``manage.py runserver`` with DEBUG=1.
"""

import base64
import sys

import httpx
import pytest
from django.test import RequestFactory
from django.views.debug import get_exception_reporter_class

from tests.runserver import runserver

pytestmark = pytest.mark.django_db(transaction=True)

# Built, not written out: the error page shows the source lines around each frame, this file's too.
MARK = "s3cr3t"
SECRETS = {
    "INTROSPECTION_CLIENTS": {"billing": f"introspection-{MARK}-1"},
    "METRICS_TOKEN": f"metrics-{MARK}-2",
    "WEBHOOK_SECRET": f"whsec_webhook-{MARK}-3",
    "EMAIL_HOST_PASSWORD": f"smtp-{MARK}-4",
    "EMAIL_URL": f"smtp://mailer:smtp-url-{MARK}-5@mail.example:587",
    "DATABASE_URL": f"postgres://flowauth:db-{MARK}-6@db:5432/flowauth",
}
REDIS_PASSWORD = f"redis-{MARK}-8"
POSTED = f"posted-password-{MARK}-7"
QUERY_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0." + base64.urlsafe_b64encode(MARK.encode() * 3).decode().rstrip("=")
LEAKS = [
    f"introspection-{MARK}-1",
    f"metrics-{MARK}-2",
    f"webhook-{MARK}-3",
    f"smtp-{MARK}-4",
    f"smtp-url-{MARK}-5",
    f"db-{MARK}-6",
    REDIS_PASSWORD,
]


def _error_page(settings) -> str:
    for name, value in SECRETS.items():
        setattr(settings, name, value)
    settings.DEBUG = True
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": f"redis://:{REDIS_PASSWORD}@redis:6379/0"},
    }
    request = RequestFactory().post(
        f"/api/auth/login?access_token={QUERY_TOKEN}",
        {"email": "a@example.com", "password": POSTED, "note": "free text " + POSTED},
    )

    def view(password, token):
        raise RuntimeError("boom")

    try:
        view(password=POSTED, token=QUERY_TOKEN)
    except RuntimeError:
        reporter = get_exception_reporter_class(request)(request, *sys.exc_info())
        return reporter.get_traceback_html() + reporter.get_traceback_text()


def test_the_debug_page_masks_every_secret_setting(settings):
    page = _error_page(settings)
    for secret in (*LEAKS, settings.SECRET_KEY, settings.FLOWAUTH_TOKENS["SIGNING_KEY"]):
        assert secret not in page, secret
    assert "INTROSPECTION_CLIENTS" in page  # listed, masked


def test_the_debug_page_never_echoes_a_posted_value_or_a_token(settings):
    page = _error_page(settings)
    assert POSTED not in page
    assert QUERY_TOKEN not in page and QUERY_TOKEN.split(".")[1] not in page
    assert "boom" in page  # still a useful page


def test_under_runserver_with_debug_on_api_errors_are_json_and_echo_nothing(tmp_path):
    with runserver(tmp_path / "runserver.log", INTROSPECTION_CLIENTS=f"svc:introspection-{MARK}-1") as base:
        answers = [
            httpx.get(f"{base}/api/nope"),
            httpx.post(f"{base}/api/docs", data={"password": POSTED}),
            httpx.post(f"{base}/api/schema", json={"password": POSTED}),
            httpx.get(f"{base}/media/avatars/missing.png"),
            httpx.post(f"{base}/metrics", data={"password": POSTED}),
            httpx.request("TRACE", f"{base}/api/auth/login"),
        ]
        docs = httpx.get(f"{base}/api/docs/")
    for response in answers:
        assert response.status_code in (404, 405), (response.request.url, response.status_code)
        assert response.headers["Content-Type"].startswith("application/json"), response.text[:200]
        assert set(response.json()) == {"detail", "code"}
        assert POSTED not in response.text and LEAKS[0] not in response.text
    assert docs.status_code == 200
