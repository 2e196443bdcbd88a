"""RFC 7009 POST /api/auth/revoke (docs/security.md STD-01..07)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.helpers import bearer, error_code, login, resign
from tokens.models import RevokeReason, Session

pytestmark = pytest.mark.django_db

REVOKE = "/api/auth/revoke"
WHOAMI = "/api/auth/whoami"
REFRESH = "/api/auth/refresh"


def refused(api, tokens) -> bool:
    access = api.get(WHOAMI, **bearer(tokens["access"]))
    refresh = api.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")
    return error_code(access) == "session_revoked" and error_code(refresh) == "session_revoked"


@pytest.mark.parametrize("fmt", ["json", "multipart", "form"])
def test_revoking_a_refresh_token_ends_its_session(api, session_tokens, fmt):
    if fmt == "form":
        response = api.post(
            REVOKE, f"token={session_tokens['refresh']}", content_type="application/x-www-form-urlencoded"
        )
    else:
        response = api.post(REVOKE, {"token": session_tokens["refresh"]}, format=fmt)
    assert response.status_code == 200 and response.content == b""
    assert refused(api, session_tokens)
    assert Session.objects.get().revoke_reason == RevokeReason.REVOKE_ENDPOINT


def test_revoking_an_access_token_ends_its_session_too(api, session_tokens):
    assert api.post(REVOKE, {"token": session_tokens["access"]}, format="json").status_code == 200
    assert refused(api, session_tokens)


def test_other_sessions_of_the_user_stay_live(api, user, session_tokens):
    other = login(api, user.email)
    api.post(REVOKE, {"token": session_tokens["refresh"]}, format="json")
    assert api.get(WHOAMI, **bearer(other["access"])).status_code == 200


@pytest.mark.parametrize("hint", ["refresh_token", "access_token", "foo"])
def test_a_wrong_or_unknown_hint_still_revokes(api, session_tokens, hint):
    response = api.post(REVOKE, {"token": session_tokens["access"], "token_type_hint": hint}, format="json")
    assert response.status_code == 200
    assert refused(api, session_tokens)


def test_invalid_tokens_get_the_same_answer_as_a_real_revoke(api, user, session_tokens):
    real = api.post(REVOKE, {"token": login(api, user.email)["refresh"]}, format="json")
    expired_token = login(api, user.email)["access"]
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        expired = api.post(REVOKE, {"token": expired_token}, format="json")
    others = [
        api.post(REVOKE, {"token": token}, format="json")
        for token in (
            "garbage",
            resign(session_tokens["access"], jti="unknown", sid="0" * 32, refresh_jti="0" * 32),
            session_tokens["access"][:-4] + "AAAA",  # bad signature
        )
    ]
    again = api.post(REVOKE, {"token": session_tokens["refresh"]}, format="json")
    repeat = api.post(REVOKE, {"token": session_tokens["refresh"]}, format="json")
    for response in (expired, *others, again, repeat):
        assert (response.status_code, response.content) == (real.status_code, real.content)


def test_a_token_naming_another_users_session_revokes_nothing(api, user, other_user, session_tokens):
    forged_owner = resign(session_tokens["access"], user_id=str(other_user.pk))
    assert api.post(REVOKE, {"token": forged_owner}, format="json").status_code == 200
    assert api.get(WHOAMI, **bearer(session_tokens["access"])).status_code == 200


@pytest.mark.parametrize("body", [{}, {"token": ""}, {"token_type_hint": "refresh_token"}])
def test_a_missing_token_is_invalid_request(api, body):
    response = api.post(REVOKE, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert error_code(response) == "invalid_request"


def test_revoke_needs_no_credentials_and_ignores_them(api, session_tokens):
    response = api.post(REVOKE, {"token": "x"}, format="json", **bearer("not-a-token"))
    assert response.status_code == 200


def test_revoke_is_throttled_per_client(api, settings):
    settings.FLOWAUTH_THROTTLE_RATES = {**settings.FLOWAUTH_THROTTLE_RATES, "revoke": "5/min"}
    statuses = [api.post(REVOKE, {"token": f"guess-{n}"}, format="json").status_code for n in range(8)]
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429] * 3
    throttled = api.post(REVOKE, {"token": "guess"}, format="json")
    assert error_code(throttled) == "throttled" and int(throttled["Retry-After"]) > 0


def test_redis_down_while_revoking_is_503_and_nothing_is_recorded(api, session_tokens, token_settings):
    token_settings(REDIS_URL="redis://127.0.0.1:1/0", REDIS_SOCKET_TIMEOUT=0.5)
    response = api.post(REVOKE, {"token": session_tokens["refresh"]}, format="json")
    assert response.status_code == 503 and error_code(response) == "auth_unavailable"
    assert int(response["Retry-After"]) > 0
    assert not Session.objects.get().is_revoked  # a retry does the whole revocation


def test_get_is_not_allowed(api):
    assert api.get(REVOKE).status_code == 405
