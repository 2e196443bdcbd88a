"""Revocations last as long as the tokens they refuse (docs/security.md REV-06, REV-07).

Redis keeps real time, so the clock seam cannot age a key; instead each test
moves the service's clock to the moment that matters, empties Redis, and lets
the rebuild decide from the database which revocations are still needed.
"""

from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from tests.helpers import bearer, error_code, login, session_key_of
from tokens import lifetimes

pytestmark = pytest.mark.django_db

WHOAMI = "/api/auth/whoami"


def whoami_after_flush(api, redis_client, access: str):
    redis_client.flushdb()  # the rebuild, not the old key, must refuse the token
    return api.get(WHOAMI, **bearer(access))


def test_an_access_token_outliving_its_parent_refresh_stays_refused_until_its_own_exp(
    api, user, redis_client, token_settings
):
    token_settings(ACCESS_TOKEN_LIFETIME=900, REFRESH_TOKEN_LIFETIME=300, LEEWAY=0)
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        first = login(api, user.email)
    with time_machine.travel(start + timedelta(seconds=250), tick=False):  # the parent has 50 s left
        rotated = api.post("/api/auth/refresh", {"refresh": first["refresh"]}, format="json").json()
    with time_machine.travel(start + timedelta(seconds=260), tick=False):
        assert api.post("/api/auth/logout", **bearer(rotated["access"])).status_code == 204
    # Both refresh tokens expired long ago; the access token lives until start + 1150.
    with time_machine.travel(start + timedelta(seconds=1140), tick=False):
        call_command("flush_expired_tokens", verbosity=0)
        assert error_code(whoami_after_flush(api, redis_client, rotated["access"])) == "session_revoked"
    with time_machine.travel(start + timedelta(seconds=1151), tick=False):
        assert error_code(whoami_after_flush(api, redis_client, rotated["access"])) == "token_expired"


def test_a_revoked_token_inside_the_leeway_past_its_exp_is_refused(api, user, redis_client, token_settings):
    token_settings(ACCESS_TOKEN_LIFETIME=900, LEEWAY=10)
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        tokens = login(api, user.email)
        assert api.post("/api/auth/logout", **bearer(tokens["access"])).status_code == 204
    with time_machine.travel(start + timedelta(seconds=909), tick=False):  # exp + 9: accepted by signature
        assert error_code(whoami_after_flush(api, redis_client, tokens["access"])) == "session_revoked"
        assert redis_client.ttl(session_key_of(tokens["access"])) >= 1
    with time_machine.travel(start + timedelta(seconds=911), tick=False):  # past the leeway: expired
        assert error_code(whoami_after_flush(api, redis_client, tokens["access"])) == "token_expired"


def test_the_ttl_of_a_revocation_covers_the_leeway(db, token_settings):
    token_settings(ACCESS_TOKEN_LIFETIME=900, LEEWAY=10, REVOCATION_TTL_MARGIN=5)
    now = timezone.now()
    entry = lifetimes.Revocation("s1", "u1", revoked_at=now, session_expires_at=now + timedelta(days=1))
    assert entry.ttl_seconds(now) == 900 + 10 + 5
    assert entry.ttl_seconds(now + timedelta(seconds=905)) == 10  # 5 s of leeway left, plus the margin
    assert entry.ttl_seconds(now + timedelta(seconds=910)) == 0


def test_a_leeway_over_thirty_seconds_fails_the_check(token_settings):
    from tokens import checks

    token_settings(LEEWAY=31)
    assert [error.id for error in checks.leeway_check()] == ["tokens.E007"]
    token_settings(LEEWAY=30)
    assert checks.leeway_check() == []
