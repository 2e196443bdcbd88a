"""Password reset, email verification and email change (docs/recovery.md).

Mail goes through a real SMTP server (aiosmtpd) and the task queue's own
worker; time moves with time_machine, never sleeps.
"""

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import User
from accounts.models_recovery import VerificationCode
from tests.helpers import PASSWORD, bearer, error_code, login, make_user
from tests.mailbox import smtp_server
from tests.recovery_helpers import run_worker

NEW = "a whole new passphrase 9"
RESET, CONFIRM = "/api/auth/password/reset", "/api/auth/password/reset/confirm"
VERIFY, RESEND = "/api/auth/email/verify", "/api/auth/email/verify/resend"
CHANGE, CHANGE_CONFIRM = "/api/auth/profile/email", "/api/auth/profile/email/confirm"

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailbox(settings):
    with smtp_server() as (box, port):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.FRONTEND_RESET_URL = "https://app.example/reset?token={token}"
        settings.FRONTEND_VERIFY_URL = "https://app.example/verify?token={token}"
        yield box


def post(api, path, body, **extra):
    # json.dumps escapes lone surrogates: the bytes on the wire stay valid UTF-8.
    return api.post(path, json.dumps(body), content_type="application/json", **extra)


def reset_code(api, mailbox, email):
    assert post(api, RESET, {"email": email}).status_code == 202
    run_worker()
    return mailbox.code(email)


# Password reset ---------------------------------------------------------------


def test_reset_code_works_once_and_answers_a_pair(api, user, mailbox):
    code = reset_code(api, mailbox, user.email)
    response = post(api, CONFIRM, {"email": user.email, "code": code, "new_password": NEW})
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["email"] == user.email and body["access"] and body["refresh"]
    assert response["Cache-Control"] == "no-store"
    assert api.get("/api/auth/profile", **bearer(body["access"])).status_code == 200
    login(api, user.email, NEW)
    again = post(api, CONFIRM, {"email": user.email, "code": code, "new_password": "yet another passphrase 7"})
    assert again.status_code == 400 and error_code(again) == "invalid_code"


def test_reset_link_token_works_once(api, user, mailbox):
    post(api, RESET, {"email": user.email})
    run_worker()
    token = mailbox.token(user.email)
    assert post(api, CONFIRM, {"token": token, "new_password": NEW}).status_code == 200
    again = post(api, CONFIRM, {"token": token, "new_password": NEW + "x"})
    assert error_code(again) == "invalid_code"


def test_reset_ends_every_credential_and_every_other_code(api, user, mailbox, client):
    old = login(api, user.email)
    session = client.post(
        "/api/session/login", {"email": user.email, "password": PASSWORD}, content_type="application/json"
    )
    assert session.status_code == 200
    assert post(api, RESEND, {"email": user.email}).status_code == 202  # a verification code too
    code = reset_code(api, mailbox, user.email)
    assert VerificationCode.objects.live().filter(user=user).count() == 2
    assert post(api, CONFIRM, {"email": user.email, "code": code, "new_password": NEW}).status_code == 200
    refused = api.get("/api/auth/profile", **bearer(old["access"]))
    assert refused.status_code == 401 and error_code(refused) == "session_revoked"
    assert error_code(post(api, "/api/auth/refresh", {"refresh": old["refresh"]})) == "session_revoked"
    assert client.get("/api/auth/profile").status_code in (401, 403)
    assert VerificationCode.objects.live().filter(user=user).count() == 0


def test_reset_ends_access_after_redis_loses_its_data(api, user, mailbox, redis_client):
    old = login(api, user.email)
    code = reset_code(api, mailbox, user.email)
    assert post(api, CONFIRM, {"email": user.email, "code": code, "new_password": NEW}).status_code == 200
    redis_client.flushdb()
    assert error_code(api.get("/api/auth/profile", **bearer(old["access"]))) == "session_revoked"


def test_a_weak_password_is_a_field_error_and_keeps_the_code(api, user, mailbox):
    code = reset_code(api, mailbox, user.email)
    weak = post(api, CONFIRM, {"email": user.email, "code": code, "new_password": "123"})
    assert weak.status_code == 400 and "new_password" in weak.json()
    assert post(api, CONFIRM, {"email": user.email, "code": code, "new_password": NEW}).status_code == 200


def test_the_sixth_try_finds_the_code_dead(api, user, mailbox):
    code = reset_code(api, mailbox, user.email)
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    for _ in range(5):
        assert (
            error_code(post(api, CONFIRM, {"email": user.email, "code": wrong, "new_password": NEW})) == "invalid_code"
        )
    dead = post(api, CONFIRM, {"email": user.email, "code": code, "new_password": NEW})
    assert dead.status_code == 400 and error_code(dead) == "invalid_code"
    assert User.objects.get(pk=user.pk).check_password(PASSWORD)


def test_four_wrong_tries_leave_the_code_alive(api, user, mailbox):
    code = reset_code(api, mailbox, user.email)
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    for _ in range(4):
        post(api, CONFIRM, {"email": user.email, "code": wrong, "new_password": NEW})
    assert post(api, CONFIRM, {"email": user.email, "code": code, "new_password": NEW}).status_code == 200


def test_an_expired_code_fails(api, user, mailbox, settings):
    code = reset_code(api, mailbox, user.email)
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.VERIFICATION_CODE_LIFETIME + 1)):
        expired = post(api, CONFIRM, {"email": user.email, "code": code, "new_password": NEW})
    assert expired.status_code == 400 and error_code(expired) == "invalid_code"


def test_a_code_just_inside_its_lifetime_works(api, user, mailbox, settings):
    code = reset_code(api, mailbox, user.email)
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.VERIFICATION_CODE_LIFETIME - 5)):
        assert post(api, CONFIRM, {"email": user.email, "code": code, "new_password": NEW}).status_code == 200


def test_a_new_code_replaces_the_previous_one(api, user, mailbox):
    first = reset_code(api, mailbox, user.email)
    second = reset_code(api, mailbox, user.email)
    if first != second:
        assert (
            error_code(post(api, CONFIRM, {"email": user.email, "code": first, "new_password": NEW})) == "invalid_code"
        )
    assert post(api, CONFIRM, {"email": user.email, "code": second, "new_password": NEW}).status_code == 200


def test_a_code_of_another_purpose_or_user_does_not_reset(api, user, other_user, mailbox):
    post(api, RESEND, {"email": user.email})
    run_worker()
    verify_code = mailbox.code(user.email)
    assert (
        error_code(post(api, CONFIRM, {"email": user.email, "code": verify_code, "new_password": NEW}))
        == "invalid_code"
    )
    code = reset_code(api, mailbox, user.email)
    assert (
        error_code(post(api, CONFIRM, {"email": other_user.email, "code": code, "new_password": NEW})) == "invalid_code"
    )


def test_unknown_and_known_emails_get_the_same_answer_and_the_same_work(api, user, mailbox):
    known = post(api, RESET, {"email": user.email})
    unknown = post(api, RESET, {"email": "nobody@example.com"})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == (202, known.json())
    from django_tasks_db.models import DBTaskResult

    queued = list(DBTaskResult.objects.order_by("enqueued_at").values_list("task_path", "args_kwargs"))
    assert [path for path, _ in queued] == ["accounts.tasks.send_password_reset"] * 2
    run_worker()
    assert [m["X-Envelope-To"] for m in mailbox.messages] == [user.email]


def test_stored_codes_are_hashes_and_the_queue_holds_no_code(api, user, mailbox):
    code = reset_code(api, mailbox, user.email)
    token = mailbox.token(user.email)
    row = VerificationCode.objects.get(user=user)
    assert code not in (row.code_hash, row.token_hash) and token not in (row.code_hash, row.token_hash)
    from django_tasks_db.models import DBTaskResult

    stored = repr(list(DBTaskResult.objects.values()))
    assert code not in stored and token not in stored


@pytest.mark.throttles
def test_reset_is_throttled_per_email_and_per_ip(api, user, settings):
    settings.FLOWAUTH_THROTTLE_RATES = {
        **settings.FLOWAUTH_THROTTLE_RATES,
        "reset_email": "2/hour",
        "reset_ip": "3/hour",
    }
    assert [post(api, RESET, {"email": user.email}).status_code for _ in range(3)] == [202, 202, 429]
    other_ip = post(api, RESET, {"email": user.email}, REMOTE_ADDR="10.0.0.9")
    assert other_ip.status_code == 429 and other_ip["Retry-After"]
    assert post(api, RESET, {"email": "someone@example.com"}, REMOTE_ADDR="10.0.0.9").status_code == 202
    by_ip = post(api, RESET, {"email": "third@example.com"})
    assert by_ip.status_code == 429 and error_code(by_ip) == "throttled"


@pytest.mark.throttles
def test_code_checks_are_throttled_per_ip(api, user, settings):
    settings.FLOWAUTH_THROTTLE_RATES = {**settings.FLOWAUTH_THROTTLE_RATES, "code_ip": "2/hour"}
    body = {"email": user.email, "code": "00000000", "new_password": NEW}
    assert [post(api, CONFIRM, body).status_code for _ in range(3)] == [400, 400, 429]


def test_reset_notice_carries_no_code_or_token(api, user, mailbox):
    code = reset_code(api, mailbox, user.email)
    token = mailbox.token(user.email)
    post(
        api,
        CONFIRM,
        {"email": user.email, "code": code, "new_password": NEW},
        HTTP_USER_AGENT="Phone/1.0",
        REMOTE_ADDR="192.0.2.7",
    )
    run_worker()
    notice = mailbox.to(user.email)[-1]
    assert "reset" in notice["Subject"].lower()
    for part in (mailbox.text(notice), mailbox.html(notice)):
        assert "192.0.2.7" in part and "Phone/1.0" in part
        assert code not in part and token not in part


# Email verification -------------------------------------------------------------


def test_registration_sends_a_code_that_verifies(api, mailbox):
    response = post(api, "/api/auth/register", {"email": "new@example.com", "password": PASSWORD})
    assert response.status_code == 201 and response.json()["user"]["email_verified"] is False
    run_worker()
    code = mailbox.code("new@example.com")
    verified = post(api, VERIFY, {"email": "new@example.com", "code": code})
    assert verified.status_code == 200 and verified.json()["user"]["email_verified"] is True
    assert User.objects.get(email="new@example.com").email_verified
    assert error_code(post(api, VERIFY, {"email": "new@example.com", "code": code})) == "invalid_code"


def test_verification_link_and_resend(api, user, mailbox):
    assert post(api, RESEND, {"email": user.email}).status_code == 202
    unknown = post(api, RESEND, {"email": "nobody@example.com"})
    assert unknown.status_code == 202 and unknown.json() == post(api, RESEND, {"email": user.email}).json()
    run_worker()
    assert {m["X-Envelope-To"] for m in mailbox.messages} == {user.email}
    assert post(api, VERIFY, {"token": mailbox.token(user.email)}).status_code == 200
    post(api, RESEND, {"email": user.email})
    run_worker()
    assert len(mailbox.to(user.email)) == 2  # a verified address gets no more codes


def test_require_verified_email_refuses_login_and_refresh(api, user, settings, mailbox):
    tokens = login(api, user.email)
    settings.REQUIRE_VERIFIED_EMAIL = True
    refused = post(api, "/api/auth/login", {"email": user.email, "password": PASSWORD})
    assert refused.status_code == 403 and error_code(refused) == "email_unverified"
    refresh = post(api, "/api/auth/refresh", {"refresh": tokens["refresh"]})
    assert refresh.status_code == 403 and error_code(refresh) == "email_unverified"
    wrong = post(api, "/api/auth/login", {"email": user.email, "password": "not it at all"})
    assert error_code(wrong) == "invalid_credentials"
    User.objects.filter(pk=user.pk).update(email_verified=True)
    login(api, user.email)


# Email change --------------------------------------------------------------------


@pytest.fixture
def signed_in(api, user):
    tokens = login(api, user.email)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    return tokens


def test_email_change_by_code(api, user, signed_in, mailbox):
    response = post(api, CHANGE, {"new_email": "Alice.New@Example.com", "current_password": PASSWORD})
    assert response.status_code == 202
    run_worker()
    code = mailbox.code("alice.new@example.com")
    notice = mailbox.to(user.email)[-1]
    assert code not in mailbox.text(notice) and "alice.new@example.com" in mailbox.text(notice)
    assert User.objects.get(pk=user.pk).email == "alice@example.com"  # not before confirmation
    confirmed = post(api, CHANGE_CONFIRM, {"code": code})
    assert confirmed.status_code == 200
    assert confirmed.json()["email"] == "alice.new@example.com" and confirmed.json()["email_verified"] is True
    login(api, "alice.new@example.com")
    assert (
        error_code(post(api, "/api/auth/login", {"email": "alice@example.com", "password": PASSWORD}))
        == "invalid_credentials"
    )
    run_worker()
    assert "changed" in mailbox.to("alice@example.com")[-1]["Subject"].lower()


def test_email_change_wrong_password_sends_nothing(api, user, signed_in, mailbox):
    run_worker()  # the sign-in's own notice
    before = len(mailbox.messages)
    response = post(api, CHANGE, {"new_email": "x@example.com", "current_password": "wrong password"})
    assert response.status_code == 400 and "current_password" in response.json()
    run_worker()
    assert len(mailbox.messages) == before and mailbox.to("x@example.com") == []


def test_email_change_to_a_taken_address_is_409_then_and_at_confirmation(api, user, other_user, signed_in, mailbox):
    taken = post(api, CHANGE, {"new_email": other_user.email, "current_password": PASSWORD})
    assert taken.status_code == 409 and error_code(taken) == "email_taken"
    post(api, CHANGE, {"new_email": "later@example.com", "current_password": PASSWORD})
    run_worker()
    code = mailbox.code("later@example.com")
    make_user("later@example.com")
    late = post(api, CHANGE_CONFIRM, {"code": code})
    assert late.status_code == 409 and error_code(late) == "email_taken"
    assert User.objects.get(pk=user.pk).email == "alice@example.com"


def test_email_change_needs_access(api):
    assert post(api, CHANGE, {"new_email": "x@example.com", "current_password": PASSWORD}).status_code == 401
    assert post(api, CHANGE_CONFIRM, {"code": "12345678"}).status_code == 401


def test_email_change_needs_a_recent_authentication(api, user, mailbox, settings):
    settings.REAUTH_MAX_AGE = 600
    login_time = timezone.now()
    with time_machine.travel(login_time, tick=False):
        tokens = login(api, user.email)
    with time_machine.travel(login_time + timedelta(seconds=601), tick=False):
        # a refresh keeps the login's auth_time: rotation never makes an old sign-in recent
        fresh = post(api, "/api/auth/refresh", {"refresh": tokens["refresh"]}).json()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {fresh['access']}")
        refused = post(api, CHANGE, {"new_email": "n@example.com", "current_password": PASSWORD})
        assert refused.status_code == 403 and error_code(refused) == "reauth_required"
        run_worker()
        assert mailbox.to("n@example.com") == []
        assert User.objects.get(pk=user.pk).email == user.email


def test_email_change_wrong_code(api, signed_in, mailbox):
    post(api, CHANGE, {"new_email": "n@example.com", "current_password": PASSWORD})
    run_worker()
    code = mailbox.code("n@example.com")
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    assert error_code(post(api, CHANGE_CONFIRM, {"code": wrong})) == "invalid_code"


# Notifications ---------------------------------------------------------------------


def test_new_device_login_is_notified_once_per_device(api, user, mailbox):
    for _ in range(2):
        assert (
            post(
                api, "/api/auth/login", {"email": user.email, "password": PASSWORD}, HTTP_USER_AGENT="Laptop/2"
            ).status_code
            == 200
        )
    run_worker()
    notices = [m for m in mailbox.to(user.email) if "sign-in" in m["Subject"].lower()]
    assert len(notices) == 1 and "Laptop/2" in mailbox.text(notices[0])


def test_reuse_is_notified(api, user, mailbox, token_settings):
    token_settings(REFRESH_GRACE_SECONDS=0)
    tokens = login(api, user.email)
    assert post(api, "/api/auth/refresh", {"refresh": tokens["refresh"]}).status_code == 200
    assert error_code(post(api, "/api/auth/refresh", {"refresh": tokens["refresh"]})) == "refresh_reused"
    run_worker()
    assert any("stolen" in m["Subject"].lower() for m in mailbox.to(user.email))


def test_adding_and_removing_a_second_factor_are_notified(api, user, mailbox):
    from tests.accounts.test_mfa import enrol

    session = enrol(api, user.email)
    assert api.delete("/api/auth/mfa/totp", **bearer(session["access"])).status_code == 204
    run_worker()
    texts = [mailbox.text(m) for m in mailbox.to(user.email) if "factor" in m["Subject"].lower()]
    assert len(texts) == 2 and "added" in texts[0] and "removed" in texts[1]
    assert all(session["secret"] not in text and session["recovery_codes"][0] not in text for text in texts)


# Input classes ------------------------------------------------------------------------

JSON_VALUES = [None, True, 0, 1.5, [], {}, ["a"], {"a": 1}]
ODD = ["\ud800", "a\x00b", "\u202eevil@example.com", "x" * 10_000, ""]
ENDPOINTS = [
    (RESET, {"email": "a@example.com"}),
    (CONFIRM, {"email": "a@example.com", "code": "12345678", "new_password": NEW}),
    (CONFIRM, {"token": "t" * 43, "new_password": NEW}),
    (VERIFY, {"email": "a@example.com", "code": "12345678"}),
    (VERIFY, {"token": "t" * 43}),
    (RESEND, {"email": "a@example.com"}),
]


@pytest.mark.parametrize("path,body", ENDPOINTS)
@pytest.mark.parametrize("value", JSON_VALUES + ODD)
def test_every_field_with_every_json_type_and_odd_text_is_a_clear_4xx(api, path, body, value):
    for field in body:
        response = post(api, path, {**body, field: value})
        assert 400 <= response.status_code < 500 or response.status_code == 202, (field, value, response.content)
        assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("path", [RESET, CONFIRM, VERIFY, RESEND])
@pytest.mark.parametrize("raw", ["[]", "1", '"text"', "null", "true", "{", "\xff"])
def test_non_object_bodies_are_400(api, path, raw):
    response = api.post(path, raw, content_type="application/json")
    assert response.status_code == 400 and response["Content-Type"].startswith("application/json")


def test_missing_fields_name_the_fields(api):
    response = post(api, CONFIRM, {"new_password": NEW})
    assert response.status_code == 400 and {"email", "code"} <= set(response.json())
    assert "new_password" in post(api, CONFIRM, {"token": "x"}).json()
    assert "email" in post(api, RESET, {}).json()


def test_profile_and_admin_show_email_verified(api, user, signed_in, admin_client):
    assert api.get("/api/auth/profile").json()["email_verified"] is False
    page = admin_client.get("/admin/accounts/user/")
    assert page.status_code == 200 and b"email_verified" in page.content


def test_import_users_keeps_the_sources_verified_state(tmp_path):
    import bcrypt

    from accounts.importing import RowError, clean_row, import_users

    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    rows = [
        (1, {"email": "v@example.com", "password_hash": hashed, "email_verified": True}),
        (2, {"email": "u@example.com", "password_hash": hashed, "email_verified": "false"}),
        (3, {"email": "n@example.com", "password_hash": hashed}),
    ]
    import_users(rows)
    assert dict(User.objects.values_list("email", "email_verified")) == {
        "v@example.com": True,
        "u@example.com": False,
        "n@example.com": False,
    }
    with pytest.raises(RowError, match="email_verified"):
        clean_row({"email": "x@example.com", "password_hash": hashed, "email_verified": "maybe"})
