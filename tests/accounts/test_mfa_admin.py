"""Staff and second factors: the admin's two-step login, MFA_REQUIRED_FOR_STAFF, removing a user's factor."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import mfa
from accounts.models import User
from tests.accounts.test_mfa import STEP, T0, code_at, enrol, first_step, second_step
from tests.helpers import PASSWORD, bearer, error_code, login, make_user
from tokens.models import AuthEvent

pytestmark = pytest.mark.django_db

USERS = "/admin/accounts/user/"


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def root(db):
    return User.objects.create_superuser("root@example.com", PASSWORD)


def admin_first_step(client: Client, email: str):
    return client.post("/admin/login/?next=/admin/", {"username": email, "password": PASSWORD, "next": "/admin/"})


def mfa_token_in(response) -> str:
    match = re.search(rb'name="mfa_token" value="([^"]+)"', response.content)
    assert match, response.content[:2000]
    return match.group(1).decode()


@pytest.mark.staff_mfa
def test_staff_without_a_factor_cannot_sign_in_to_the_admin(root, clock):
    client = Client()
    response = admin_first_step(client, root.email)
    assert response.status_code == 200 and b"need a second factor" in response.content
    assert client.get("/admin/").status_code == 302


@pytest.mark.staff_mfa
def test_an_admin_session_without_a_factor_is_not_let_in(root, clock):
    client = Client()
    client.force_login(root)  # a session from before: no second factor proved
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.staff_mfa
def test_the_admin_login_takes_a_code_in_a_second_step(api, root, clock):
    secret = enrol(api, root.email)["secret"]
    clock.shift(STEP)
    client = Client()
    first = admin_first_step(client, root.email)
    assert first.status_code == 200 and b'name="code"' in first.content
    assert client.get("/admin/").status_code == 302  # not signed in yet
    token = mfa_token_in(first)
    wrong = client.post("/admin/login/?next=/admin/", {"mfa_token": token, "code": "000000", "next": "/admin/"})
    assert wrong.status_code == 400 and b"invalid or has expired" in wrong.content
    right = client.post(
        "/admin/login/?next=/admin/", {"mfa_token": token, "code": code_at(secret, timezone.now()), "next": "/admin/"}
    )
    assert right.status_code == 302 and right["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    # A replay of the same step's code cannot open a second admin session.
    again = Client()
    token2 = mfa_token_in(admin_first_step(again, root.email))
    replay = again.post("/admin/login/", {"mfa_token": token2, "code": code_at(secret, timezone.now())})
    assert replay.status_code == 400


@pytest.mark.staff_mfa
def test_an_admin_second_step_cannot_redirect_off_site(api, root, clock):
    secret = enrol(api, root.email)["secret"]
    clock.shift(STEP)
    client = Client()
    token = mfa_token_in(admin_first_step(client, root.email))
    response = client.post(
        "/admin/login/", {"mfa_token": token, "code": code_at(secret, timezone.now()), "next": "https://evil.example/"}
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"


@pytest.mark.staff_mfa
def test_an_api_mfa_token_does_not_finish_an_admin_login(api, root, clock):
    secret = enrol(api, root.email)["secret"]
    clock.shift(STEP)
    token = first_step(api, root.email)
    client = Client()
    response = client.post("/admin/login/", {"mfa_token": token, "code": code_at(secret, timezone.now())})
    assert response.status_code == 400 and client.get("/admin/").status_code == 302


@pytest.mark.staff_mfa
def test_a_non_staff_user_with_a_factor_gets_no_admin_second_step(api, user, clock):
    enrol(api, user.email)
    clock.shift(STEP)
    response = admin_first_step(Client(), user.email)
    assert response.status_code == 200 and b'name="mfa_token"' not in response.content


@pytest.mark.staff_mfa
def test_an_admin_session_login_ends_with_the_users_cutoff(api, root, clock):
    from tokens.services import revoke_all_for_user

    secret = enrol(api, root.email)["secret"]
    clock.shift(STEP)
    client = Client()
    token = mfa_token_in(admin_first_step(client, root.email))
    client.post("/admin/login/", {"mfa_token": token, "code": code_at(secret, timezone.now())})
    assert client.get("/admin/").status_code == 200
    clock.shift(timedelta(seconds=1))
    revoke_all_for_user(root, reason="admin")
    assert client.get("/admin/").status_code == 302


def test_staff_see_that_a_user_has_a_factor_and_never_its_secret(api, user, root, clock):
    enrolled = enrol(api, user.email)
    device = TOTPDevice.objects.get(user=user)
    client = Client()
    client.force_login(root)
    listing = client.get(USERS)
    assert listing.status_code == 200 and b"second_factor" in listing.content.lower().replace(b"-", b"_")
    page = client.get(f"{USERS}{user.pk}/change/")
    assert page.status_code == 200 and b"Second factor" in page.content
    for secret in (enrolled["secret"].encode(), device.key.encode()):
        assert secret not in page.content and secret not in listing.content
    for code in enrolled["recovery_codes"]:
        assert code.encode() not in page.content
    # django-otp's own device admins (which show keys) are not there.
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404
    assert client.get("/admin/otp_static/staticdevice/").status_code == 404


def test_staff_remove_a_users_factor_and_the_users_credentials_end(api, user, root, clock):
    enrolled = enrol(api, user.email)
    client = Client()
    client.force_login(root)
    response = client.post(USERS, {"action": "remove_second_factor", "_selected_action": [user.pk], "index": 0})
    assert response.status_code == 302
    assert not mfa.has_factor(user)
    refused = api.get("/api/auth/whoami", **bearer(enrolled["access"]))
    assert refused.status_code == 401 and error_code(refused) == "session_revoked"
    event = AuthEvent.objects.get(user=user, kind="mfa_disabled")
    assert event.actor == root and event.reason == "staff"
    login(api, user.email)  # the password alone again


def test_staff_without_the_revoke_permission_cannot_remove_a_factor(api, user, clock):
    enrol(api, user.email)
    from django.contrib.auth.models import Permission

    viewer = make_user("viewer@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_user"))
    client = Client()
    client.force_login(viewer)
    response = client.post(USERS, {"action": "remove_second_factor", "_selected_action": [user.pk], "index": 0})
    assert response.status_code == 403
    assert mfa.has_factor(user)


def test_mfa_required_for_staff_defaults_on_when_debug_is_off():
    import os
    import subprocess
    import sys

    code = "from django.conf import settings; print(settings.MFA_REQUIRED_FOR_STAFF)"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "flowauth.settings", "SECRET_KEY": "x" * 50}
    env.pop("MFA_REQUIRED_FOR_STAFF", None)
    results = {}
    for debug in ("0", "1"):
        out = subprocess.run(
            [sys.executable, "-c", "import django; django.setup(); " + code],
            env={**env, "DEBUG": debug},
            capture_output=True,
            text=True,
            check=True,
        )
        results[debug] = out.stdout.strip().splitlines()[-1]
    assert results == {"0": "True", "1": "False"}


def test_second_step_tokens_are_not_logged(api, user, clock, caplog):
    enrolled = enrol(api, user.email)
    clock.shift(STEP)
    caplog.set_level("DEBUG")
    token = first_step(api, user.email)
    second_step(api, token, "000000")
    second_step(api, token, enrolled["recovery_codes"][0])
    logged = caplog.text
    assert token not in logged and enrolled["recovery_codes"][0] not in logged and enrolled["secret"] not in logged
