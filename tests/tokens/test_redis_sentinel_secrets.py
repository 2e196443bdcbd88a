"""Sentinel credentials never reach the debug page: neither the URL's nor the Sentinels' own."""

import sys

from django.test import RequestFactory
from django.views.debug import get_exception_reporter_class

from flowauth import redis_url

SERVER_PASSWORD = "sentinel-server-Zq81xK"
SENTINEL_PASSWORD = "sentinel-own-Pw93jd"
URL = f"redis+sentinel://:{SERVER_PASSWORD}@10.0.0.1:26379,10.0.0.2/flowauth/0?sentinel_password={SENTINEL_PASSWORD}"


def test_the_debug_page_masks_sentinel_passwords(settings):
    parsed = redis_url.parse(URL)
    settings.DEBUG = True
    settings.REDIS_URL = URL
    settings.FLOWAUTH_TOKENS = {**settings.FLOWAUTH_TOKENS, "REDIS_URL": URL}
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            **settings.CACHES["default"],
            "LOCATION": parsed.django_redis_location(),
            "OPTIONS": {
                **settings.CACHES["default"]["OPTIONS"],
                "SENTINELS": list(parsed.sentinels),
                "SENTINEL_KWARGS": parsed.sentinel_kwargs(1.0),
            },
        },
    }
    request = RequestFactory().get("/api/auth/whoami")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        reporter = get_exception_reporter_class(request)(request, *sys.exc_info())
        page = reporter.get_traceback_html() + reporter.get_traceback_text()
    assert "SENTINEL_KWARGS" in page or "CACHES" in page  # the settings are listed ...
    assert SERVER_PASSWORD not in page and SENTINEL_PASSWORD not in page  # ... their secrets are not


def test_a_parsed_url_never_shows_its_passwords():
    shown = repr(redis_url.parse(URL)) + str(redis_url.parse(URL))
    assert "10.0.0.1" in shown and "flowauth" in shown
    assert SERVER_PASSWORD not in shown and SENTINEL_PASSWORD not in shown
