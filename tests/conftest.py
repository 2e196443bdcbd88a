"""Shared fixtures: a real Redis (embedded or REDIS_URL), real databases, users, clients."""

import os

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from tests import helpers


@pytest.fixture(scope="session", autouse=True)
def _redis_server():
    if not os.environ.get("REDIS_URL"):
        from flowauth import embedded_redis

        embedded_redis.ensure_running()


@pytest.fixture(autouse=True)
def redis_client(_redis_server):
    """A clean revocation store for every test, marked complete (it is: the DB is empty too)."""
    client = helpers.redis()
    client.flushdb()
    helpers.mark_cache_complete()
    yield client


# Tests log in many times from one address; throttling is proved in the modules marked "throttles".
RELAXED_RATE = "100000/min"


@pytest.fixture(autouse=True)
def _relaxed_throttles(request, settings):
    if request.node.get_closest_marker("throttles") is None:
        settings.FLOWAUTH_THROTTLE_RATES = {scope: RELAXED_RATE for scope in django_settings.FLOWAUTH_THROTTLE_RATES}


@pytest.fixture(autouse=True)
def _staff_mfa_off(request, settings):
    """Staff reach the admin without a second factor, except in tests marked ``staff_mfa``."""
    if request.node.get_closest_marker("staff_mfa") is None:
        settings.MFA_REQUIRED_FOR_STAFF = False


@pytest.fixture
def token_settings(settings):
    """Override FlowAuth token settings for one test: token_settings(REFRESH_GRACE_SECONDS=2)."""

    def override(**values):
        settings.FLOWAUTH_TOKENS = {**django_settings.FLOWAUTH_TOKENS, **values}

    return override


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def password():
    return helpers.PASSWORD


@pytest.fixture
def user(db):
    return helpers.make_user("alice@example.com")


@pytest.fixture
def other_user(db):
    return helpers.make_user("bob@example.com")


@pytest.fixture
def session_tokens(api, user):
    """A logged-in session of ``user``: {'access': ..., 'refresh': ...}."""
    return helpers.login(api, user.email)


@pytest.fixture
def hasher_calls(monkeypatch):
    """How many times a password reached the Argon2 hasher (verify, or encode: the dummy hash included)."""
    from accounts import hashers

    calls = []
    for name in ("verify", "encode"):
        original = getattr(hashers.FlowAuthArgon2PasswordHasher, name)
        monkeypatch.setattr(
            hashers.FlowAuthArgon2PasswordHasher,
            name,
            lambda self, *a, _original=original, **k: calls.append(1) or _original(self, *a, **k),
        )
    return calls
