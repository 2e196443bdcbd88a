"""Second factors and step-up (docs/mfa.md), on the real Redis.

TOTP codes are computed here from the secret with pyotp (independently of
django-otp), at times set through the clock seam (time_machine).
"""

import json
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import time_machine
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import mfa
from tests.helpers import PASSWORD, bearer, claims, error_code, login
from tokens.models import AuthEvent, Session

pytestmark = pytest.mark.django_db

# A step boundary (a multiple of 30 s) well in the future of the data: every test starts here.
T0 = datetime(2031, 5, 4, 10, 0, 0, tzinfo=UTC)
STEP = timedelta(seconds=30)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def code_at(secret: str, moment: datetime) -> str:
    return pyotp.TOTP(secret).at(moment)


def enrol(api, email: str) -> dict:
    """Log in, add a factor at the current time; returns the session's tokens, secret and recovery codes."""
    tokens = login(api, email)
    started = api.post("/api/auth/mfa/totp", **bearer(tokens["access"]))
    assert started.status_code == 200, started.content
    secret = started.json()["secret"]
    confirmed = api.post(
        "/api/auth/mfa/totp/confirm",
        {"code": code_at(secret, timezone.now())},
        format="json",
        **bearer(tokens["access"]),
    )
    assert confirmed.status_code == 200, confirmed.content
    return {**tokens, "secret": secret, "recovery_codes": confirmed.json()["recovery_codes"]}


def first_step(api, email: str, **extra) -> str:
    response = api.post("/api/auth/login", {"email": email, "password": PASSWORD}, format="json", **extra)
    assert response.status_code == 401, response.content
    body = response.json()
    assert body["code"] == "mfa_required" and set(body) == {"detail", "code", "mfa_token"}
    return body["mfa_token"]


def second_step(api, mfa_token: str, code, **extra):
    return api.post("/api/auth/login/mfa", {"mfa_token": mfa_token, "code": code}, format="json", **extra)


def whoami(api, access: str):
    return api.get("/api/auth/whoami", **bearer(access))


# Enrolment -------------------------------------------------------------------


def test_enrolment_answers_an_otpauth_uri_for_the_secret_and_stays_pending_until_confirmed(api, user, clock):
    tokens = login(api, user.email)
    response = api.post("/api/auth/mfa/totp", **bearer(tokens["access"]))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"secret", "otpauth_uri"}
    uri = pyotp.parse_uri(body["otpauth_uri"])
    assert uri.secret == body["secret"] and uri.digits == 6 and uri.interval == 30
    assert body["otpauth_uri"].startswith("otpauth://totp/FlowAuth%3A") and uri.issuer == "FlowAuth"
    assert "no-store" in response["Cache-Control"]
    # Pending: the password alone still signs in.
    assert not mfa.has_factor(user)
    login(api, user.email)


def test_the_qr_code_is_an_svg_of_the_pending_device_only(api, user, clock):
    tokens = login(api, user.email)
    assert api.get("/api/auth/mfa/totp/qr", **bearer(tokens["access"])).status_code == 404
    api.post("/api/auth/mfa/totp", **bearer(tokens["access"]))
    response = api.get("/api/auth/mfa/totp/qr", **bearer(tokens["access"]))
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert response.content.lstrip().startswith(b"<svg") and b"<script" not in response.content


def test_a_wrong_confirmation_code_is_invalid_code_and_the_factor_stays_pending(api, user, clock):
    tokens = login(api, user.email)
    secret = api.post("/api/auth/mfa/totp", **bearer(tokens["access"])).json()["secret"]
    wrong = code_at(secret, T0 + 10 * STEP)
    response = api.post("/api/auth/mfa/totp/confirm", {"code": wrong}, format="json", **bearer(tokens["access"]))
    assert response.status_code == 400 and error_code(response) == "invalid_code"
    assert not mfa.has_factor(user)


def test_confirming_answers_ten_single_use_recovery_codes_stored_hashed(api, user, clock):
    enrolled = enrol(api, user.email)
    codes = enrolled["recovery_codes"]
    assert len(codes) == 10 == len(set(codes))
    stored = set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert len(stored) == 10
    assert not stored & {c.replace("-", "") for c in codes} and not stored & set(codes)
    assert mfa.has_factor(user)
    assert AuthEvent.objects.filter(user=user, kind="mfa_enabled").count() == 1


def test_confirming_ends_every_other_credential_and_keeps_the_confirming_session(api, user, clock):
    other = login(api, user.email)
    enrolled = enrol(api, user.email)
    assert whoami(api, enrolled["access"]).status_code == 200
    refused = whoami(api, other["access"])
    assert refused.status_code == 401 and error_code(refused) == "session_revoked"
    assert api.post("/api/auth/refresh", {"refresh": other["refresh"]}, format="json").status_code == 401
    assert api.post("/api/auth/refresh", {"refresh": enrolled["refresh"]}, format="json").status_code == 200


def test_the_confirming_code_is_not_accepted_again_at_login_in_the_same_step(api, user, clock):
    enrolled = enrol(api, user.email)
    mfa_token = first_step(api, user.email)
    replay = second_step(api, mfa_token, code_at(enrolled["secret"], T0))
    assert replay.status_code == 400 and error_code(replay) == "invalid_code"


# Login in two steps --------------------------------------------------------------


def test_login_with_a_factor_answers_mfa_required_then_the_code_gives_tokens_with_otp_amr(api, user, clock):
    enrolled = enrol(api, user.email)
    clock.shift(STEP)
    mfa_token = first_step(api, user.email)
    response = second_step(api, mfa_token, code_at(enrolled["secret"], timezone.now()))
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"user", "access", "refresh"} and body["user"]["email"] == user.email
    access = claims(body["access"])
    assert access["amr"] == ["pwd", "otp"] and access["auth_time"] == int((T0 + STEP).timestamp())
    assert whoami(api, body["access"]).status_code == 200
    # Used: the same mfa_token cannot start a second session.
    again = second_step(api, mfa_token, code_at(enrolled["secret"], timezone.now() + STEP))
    assert again.status_code == 400 and error_code(again) == "invalid_code"


def test_a_password_only_login_carries_pwd_amr_and_auth_time(api, user, clock):
    tokens = login(api, user.email)
    access = claims(tokens["access"])
    assert access["amr"] == ["pwd"] and access["auth_time"] == int(T0.timestamp())


def test_auth_time_and_amr_survive_refresh(api, user, clock):
    enrolled = enrol(api, user.email)
    clock.shift(STEP)
    body = second_step(api, first_step(api, user.email), code_at(enrolled["secret"], timezone.now())).json()
    clock.shift(timedelta(minutes=20))
    refreshed = api.post("/api/auth/refresh", {"refresh": body["refresh"]}, format="json").json()
    access = claims(refreshed["access"])
    assert access["amr"] == ["pwd", "otp"] and access["auth_time"] == int((T0 + STEP).timestamp())
    assert access["iat"] == int((T0 + STEP + timedelta(minutes=20)).timestamp())


def test_a_totp_code_is_accepted_once_within_its_step(api, user, clock):
    enrolled = enrol(api, user.email)
    clock.shift(STEP)
    code = code_at(enrolled["secret"], timezone.now())
    assert second_step(api, first_step(api, user.email), code).status_code == 200
    clock.shift(timedelta(seconds=10))  # same step
    replay = second_step(api, first_step(api, user.email), code)
    assert replay.status_code == 400 and error_code(replay) == "invalid_code"


@pytest.mark.parametrize("offset_steps, accepted", [(-1, True), (1, True), (-2, False), (2, False)])
def test_one_step_of_clock_skew_is_accepted_and_two_are_not(api, user, clock, offset_steps, accepted):
    enrolled = enrol(api, user.email)
    clock.shift(10 * STEP)
    now = timezone.now()
    response = second_step(api, first_step(api, user.email), code_at(enrolled["secret"], now + offset_steps * STEP))
    assert (response.status_code == 200) is accepted, response.content


def test_an_earlier_code_is_refused_after_a_later_one_was_used(api, user, clock):
    enrolled = enrol(api, user.email)
    clock.shift(10 * STEP)
    now = timezone.now()
    assert second_step(api, first_step(api, user.email), code_at(enrolled["secret"], now)).status_code == 200
    older = second_step(api, first_step(api, user.email), code_at(enrolled["secret"], now - STEP))
    assert older.status_code == 400


def test_recovery_codes_work_once_each_in_any_spelling(api, user, clock):
    codes = enrol(api, user.email)["recovery_codes"]
    assert second_step(api, first_step(api, user.email), codes[0]).status_code == 200
    used = second_step(api, first_step(api, user.email), codes[0])
    assert used.status_code == 400 and error_code(used) == "invalid_code"
    spelled = codes[1].upper().replace("-", " ")
    response = second_step(api, first_step(api, user.email), spelled)
    assert response.status_code == 200 and claims(response.json()["access"])["amr"] == ["pwd", "otp"]
    assert StaticToken.objects.filter(device__user=user).count() == 8


def test_five_wrong_codes_kill_the_mfa_token(api, user, clock, settings):
    enrolled = enrol(api, user.email)
    clock.shift(10 * STEP)
    mfa_token = first_step(api, user.email)
    for _ in range(settings.MFA_TOKEN_MAX_TRIES):
        wrong = second_step(
            api, mfa_token, "000000" if code_at(enrolled["secret"], timezone.now()) != "000000" else "111111"
        )
        assert wrong.status_code == 400 and error_code(wrong) == "invalid_code"
    right = second_step(api, mfa_token, code_at(enrolled["secret"], timezone.now()))
    assert right.status_code == 400 and error_code(right) == "invalid_code"
    assert AuthEvent.objects.filter(user=user, kind="mfa_failed").count() == 5
    # A new first step gets a new token that works.
    assert second_step(api, first_step(api, user.email), code_at(enrolled["secret"], timezone.now())).status_code == 200


def test_the_mfa_token_is_bound_to_the_first_steps_client(api, user, clock):
    enrolled = enrol(api, user.email)
    clock.shift(STEP)
    mfa_token = first_step(api, user.email, HTTP_USER_AGENT="phone/1")
    elsewhere = second_step(api, mfa_token, code_at(enrolled["secret"], timezone.now()), HTTP_USER_AGENT="other/2")
    assert elsewhere.status_code == 400 and error_code(elsewhere) == "invalid_code"
    # Dead now, even for the right client.
    assert (
        second_step(api, mfa_token, code_at(enrolled["secret"], timezone.now()), HTTP_USER_AGENT="phone/1").status_code
        == 400
    )

    other_ip = first_step(api, user.email, REMOTE_ADDR="10.0.0.1")
    moved = second_step(api, other_ip, code_at(enrolled["secret"], timezone.now()), REMOTE_ADDR="10.0.0.2")
    assert moved.status_code == 400


def test_the_mfa_token_dies_after_its_lifetime(api, user, clock, settings):
    enrolled = enrol(api, user.email)
    mfa_token = first_step(api, user.email)
    clock.shift(timedelta(seconds=settings.MFA_TOKEN_LIFETIME + 1))
    late = second_step(api, mfa_token, code_at(enrolled["secret"], timezone.now()))
    assert late.status_code == 400 and error_code(late) == "invalid_code"


def test_the_mfa_token_dies_when_access_is_ended_after_the_first_step(api, user, clock):
    from tokens.services import revoke_all_for_user

    enrolled = enrol(api, user.email)
    clock.shift(STEP)
    mfa_token = first_step(api, user.email)
    revoke_all_for_user(user, reason="admin")
    response = second_step(api, mfa_token, code_at(enrolled["secret"], timezone.now()))
    assert response.status_code == 400


def test_the_mfa_token_dies_with_the_redis_data_and_the_ended_sessions_stay_ended(api, user, clock, redis_client):
    other = login(api, user.email)
    enrolled = enrol(api, user.email)
    clock.shift(STEP)
    mfa_token = first_step(api, user.email)
    redis_client.flushall()
    response = second_step(api, mfa_token, code_at(enrolled["secret"], timezone.now()))
    assert response.status_code == 400 and error_code(response) == "invalid_code"
    refused = whoami(api, other["access"])
    assert refused.status_code == 401 and error_code(refused) == "session_revoked"
    assert whoami(api, enrolled["access"]).status_code == 200


def test_an_unknown_or_garbled_mfa_token_is_invalid_code(api, user, clock):
    enrol(api, user.email)
    for token in ["x" * 43, "", "é" * 30, "\ud800" * 30, "\u202e" * 30, "a\x00" * 15, "x" * 5000]:
        body = json.dumps({"mfa_token": token, "code": "123456"})  # ASCII escapes: a lone surrogate travels
        response = api.generic("POST", "/api/auth/login/mfa", body, content_type="application/json")
        assert response.status_code == 400, token
        assert set(response.json()) <= {"detail", "code", "mfa_token"}


def test_an_inactive_user_cannot_finish_the_second_step(api, user, clock):
    enrolled = enrol(api, user.email)
    clock.shift(STEP)
    mfa_token = first_step(api, user.email)
    user.is_active = False
    user.save()
    assert second_step(api, mfa_token, code_at(enrolled["secret"], timezone.now())).status_code == 400


def test_cookie_mode_second_step_sets_cookies(api, user, clock):
    enrolled = enrol(api, user.email)
    clock.shift(STEP)
    mfa_token = first_step(api, user.email)
    response = second_step(api, mfa_token, code_at(enrolled["secret"], timezone.now()), HTTP_X_AUTH_MODE="cookie")
    from tokens import cookies

    assert response.status_code == 200
    body = response.json()
    assert "access" not in body and "refresh" not in body and "access_expires_at" in body
    access = response.cookies[cookies.access_cookie_name()].value
    assert claims(access)["amr"] == ["pwd", "otp"]


# Step-up -------------------------------------------------------------------------


def test_sensitive_operations_need_a_recent_authentication_and_refresh_does_not_make_it_recent(
    api, user, clock, settings
):
    tokens = login(api, user.email)
    clock.shift(timedelta(seconds=settings.REAUTH_MAX_AGE + 1))
    refreshed = api.post("/api/auth/refresh", {"refresh": tokens["refresh"]}, format="json").json()
    for method, path in [
        ("post", "/api/auth/mfa/totp"),
        ("post", "/api/auth/mfa/totp/confirm"),
        ("delete", "/api/auth/mfa/totp"),
        ("post", "/api/auth/mfa/recovery-codes"),
        ("get", "/api/auth/mfa/totp/qr"),
    ]:
        response = getattr(api, method)(path, {"code": "123456"}, format="json", **bearer(refreshed["access"]))
        assert response.status_code == 403 and error_code(response) == "reauth_required", path
    assert not TOTPDevice.objects.filter(user=user).exists()


def test_reauth_gives_the_same_session_a_fresh_auth_time(api, user, clock, settings):
    tokens = login(api, user.email)
    clock.shift(timedelta(seconds=settings.REAUTH_MAX_AGE + 1))
    response = api.post("/api/auth/reauth", {"password": PASSWORD}, format="json", **bearer(tokens["access"]))
    assert response.status_code == 200, response.content
    fresh = response.json()
    assert set(fresh) == {"access", "refresh"}
    new, old = claims(fresh["access"]), claims(tokens["access"])
    assert new["sid"] == old["sid"] and new["auth_time"] == int(timezone.now().timestamp())
    assert api.post("/api/auth/mfa/totp", **bearer(fresh["access"])).status_code == 200
    # The old access token still names the old auth_time: not recent.
    assert api.post("/api/auth/mfa/totp", **bearer(tokens["access"])).status_code == 403
    # The new refresh keeps the new auth_time.
    refreshed = api.post("/api/auth/refresh", {"refresh": fresh["refresh"]}, format="json").json()
    assert claims(refreshed["access"])["auth_time"] == new["auth_time"]
    assert Session.objects.filter(user=user).count() == 1


def test_reauth_refuses_a_wrong_password_and_needs_the_code_of_a_user_with_a_factor(api, user, clock):
    enrolled = enrol(api, user.email)
    wrong = api.post("/api/auth/reauth", {"password": "nope"}, format="json", **bearer(enrolled["access"]))
    assert wrong.status_code == 401 and error_code(wrong) == "invalid_credentials"
    missing = api.post("/api/auth/reauth", {"password": PASSWORD}, format="json", **bearer(enrolled["access"]))
    assert missing.status_code == 400 and error_code(missing) == "invalid_code"
    clock.shift(STEP)
    ok = api.post(
        "/api/auth/reauth",
        {"password": PASSWORD, "code": code_at(enrolled["secret"], timezone.now())},
        format="json",
        **bearer(enrolled["access"]),
    )
    assert ok.status_code == 200 and claims(ok.json()["access"])["amr"] == ["pwd", "otp"]
    replay = api.post(
        "/api/auth/reauth",
        {"password": PASSWORD, "code": code_at(enrolled["secret"], timezone.now())},
        format="json",
        **bearer(ok.json()["access"]),
    )
    assert replay.status_code == 400 and error_code(replay) == "invalid_code"


def test_reauth_of_an_ended_session_is_refused(api, user, clock):
    tokens = login(api, user.email)
    api.post("/api/auth/logout", {"refresh": tokens["refresh"]}, format="json", **bearer(tokens["access"]))
    response = api.post("/api/auth/reauth", {"password": PASSWORD}, format="json", **bearer(tokens["access"]))
    assert response.status_code == 401


# Removal and regeneration ----------------------------------------------------------------


def test_removing_the_factor_ends_other_credentials_and_login_needs_only_the_password(api, user, clock):
    enrolled = enrol(api, user.email)
    clock.shift(STEP)
    other = second_step(api, first_step(api, user.email), code_at(enrolled["secret"], timezone.now())).json()
    response = api.delete("/api/auth/mfa/totp", **bearer(enrolled["access"]))
    assert response.status_code == 204
    assert whoami(api, other["access"]).status_code == 401
    assert whoami(api, enrolled["access"]).status_code == 200
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not StaticToken.objects.filter(device__user=user).exists()
    assert AuthEvent.objects.filter(user=user, kind="mfa_disabled", reason="self").count() == 1
    login(api, user.email)


def test_new_recovery_codes_replace_the_old_ones(api, user, clock):
    enrolled = enrol(api, user.email)
    response = api.post("/api/auth/mfa/recovery-codes", **bearer(enrolled["access"]))
    assert response.status_code == 200
    fresh = response.json()["recovery_codes"]
    assert len(fresh) == 10 and not set(fresh) & set(enrolled["recovery_codes"])
    assert second_step(api, first_step(api, user.email), enrolled["recovery_codes"][0]).status_code == 400
    assert second_step(api, first_step(api, user.email), fresh[0]).status_code == 200


def test_recovery_codes_without_a_factor_are_not_found(api, user, clock):
    tokens = login(api, user.email)
    response = api.post("/api/auth/mfa/recovery-codes", **bearer(tokens["access"]))
    assert response.status_code == 404


def test_a_new_enrolment_replaces_the_factor_only_once_confirmed(api, user, clock):
    enrolled = enrol(api, user.email)
    started = api.post("/api/auth/mfa/totp", **bearer(enrolled["access"])).json()
    clock.shift(STEP)
    # The old factor still signs in while the new one is pending.
    assert second_step(api, first_step(api, user.email), code_at(enrolled["secret"], timezone.now())).status_code == 200
    clock.shift(STEP)
    api.post(
        "/api/auth/mfa/totp/confirm",
        {"code": code_at(started["secret"], timezone.now())},
        format="json",
        **bearer(enrolled["access"]),
    )
    clock.shift(STEP)
    old = second_step(api, first_step(api, user.email), code_at(enrolled["secret"], timezone.now()))
    assert old.status_code == 400
    assert TOTPDevice.objects.filter(user=user).count() == 1


# Session login -----------------------------------------------------------------------------


def test_session_login_takes_two_steps_for_a_user_with_a_factor(user, clock):
    from rest_framework.test import APIClient

    enrolled = enrol(APIClient(), user.email)
    clock.shift(STEP)
    browser = APIClient(enforce_csrf_checks=True)
    csrf = browser.get("/api/auth/csrf").json()["csrf_token"]
    first = browser.post(
        "/api/session/login", {"email": user.email, "password": PASSWORD}, format="json", HTTP_X_CSRFTOKEN=csrf
    )
    assert first.status_code == 401 and error_code(first) == "mfa_required"
    assert "sessionid" not in first.cookies or not first.cookies["sessionid"].value
    mfa_token = first.json()["mfa_token"]
    # An API-door token does not finish the session door, nor the other way round.
    assert second_step(browser, mfa_token, "123456", HTTP_X_CSRFTOKEN=csrf).status_code == 400
    wrong = browser.post(
        "/api/session/login/mfa", {"mfa_token": mfa_token, "code": "000000"}, format="json", HTTP_X_CSRFTOKEN=csrf
    )
    assert wrong.status_code == 400 and error_code(wrong) == "invalid_code"
    done = browser.post(
        "/api/session/login/mfa",
        {"mfa_token": mfa_token, "code": code_at(enrolled["secret"], timezone.now())},
        format="json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert done.status_code == 200, done.content
    assert done.json()["user"]["email"] == user.email
    assert browser.session.get("_flowauth_amr") == "pwd otp"


def test_the_session_second_step_is_csrf_checked(user, clock):
    from rest_framework.test import APIClient

    enrol(APIClient(), user.email)
    browser = APIClient(enforce_csrf_checks=True)
    response = browser.post("/api/session/login/mfa", {"mfa_token": "x" * 43, "code": "123456"}, format="json")
    assert response.status_code == 403


# Throttling -------------------------------------------------------------------------------------


@pytest.mark.throttles
def test_second_step_failures_count_against_the_accounts_login_budget(api, user, clock, settings):
    settings.FLOWAUTH_THROTTLE_RATES = {
        **settings.FLOWAUTH_THROTTLE_RATES,
        "login_ip": "1000/min",
        "login_email": "5/min",
        "password_user": "1000/min",
    }
    enrolled = enrol(api, user.email)  # one login of the five
    clock.shift(STEP)
    mfa_token = first_step(api, user.email)  # two
    statuses = [second_step(api, mfa_token, "000000").status_code for _ in range(4)]
    assert statuses[:3] == [400, 400, 400] and statuses[3] == 429
    right = second_step(api, mfa_token, code_at(enrolled["secret"], timezone.now()))
    assert right.status_code == 429


def test_adding_a_factor_ends_the_users_session_logins_too(api, user, clock):
    from rest_framework.test import APIClient

    browser = APIClient(enforce_csrf_checks=True)
    csrf = browser.get("/api/auth/csrf").json()["csrf_token"]
    assert (
        browser.post(
            "/api/session/login", {"email": user.email, "password": PASSWORD}, format="json", HTTP_X_CSRFTOKEN=csrf
        ).status_code
        == 200
    )
    clock.shift(timedelta(seconds=1))
    enrol(api, user.email)
    csrf = browser.cookies["csrftoken"].value
    response = browser.post("/api/session/logout", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code in (401, 403), response.content  # the session login is gone


def test_a_live_session_login_answers_logout_204(user, clock):
    """The positive control of the test above: the same probe on a session login that was not ended."""
    from rest_framework.test import APIClient

    browser = APIClient(enforce_csrf_checks=True)
    csrf = browser.get("/api/auth/csrf").json()["csrf_token"]
    browser.post(
        "/api/session/login", {"email": user.email, "password": PASSWORD}, format="json", HTTP_X_CSRFTOKEN=csrf
    )
    assert browser.post("/api/session/logout", HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value).status_code == 204
