"""Recovery across processes: a real db_worker sends the mail, two gunicorn servers share the state.

A code used on server A is refused on server B; a reset through A ends a
Bearer session, a cookie-mode session, a session login and an admin login held on B, and
stays ended after Redis loses its data.
"""

import time

import httpx
import pytest

from tests.helpers import PASSWORD, make_user
from tests.mailbox import smtp_server
from tests.recovery_helpers import db_worker_process
from tests.servers import gunicorn
from tests.system.test_ending_access_processes import (
    admin_login,
    bearer_login,
    cookie_login,
    session_login,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live_server_process]

NEW = "a whole new passphrase 9"


def wait_for_code(mailbox, address: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while mailbox.code(address) is None:
        assert time.monotonic() < deadline, "no mail arrived"
        time.sleep(0.1)


def test_reset_on_a_ends_every_credential_on_b_and_the_code_works_once(redis_client):
    user = make_user("carol@example.com", is_staff=True, is_superuser=True)
    with smtp_server() as (mailbox, port):
        mail_env = {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": port,
        }
        with (
            gunicorn(workers=1, threads=2, **mail_env) as a,
            gunicorn(workers=1, threads=2, **mail_env) as b,
            db_worker_process(**mail_env),
        ):
            bearer = bearer_login(b, user.email)
            browser = cookie_login(b, user.email)
            session = session_login(b, user.email)
            admin = admin_login(b, user.email)
            assert admin.request("GET", "/admin/").status_code == 200
            assert (
                httpx.get(f"{b}/api/auth/profile", headers={"Authorization": f"Bearer {bearer['access']}"}).status_code
                == 200
            )

            assert httpx.post(f"{a}/api/auth/password/reset", json={"email": user.email}).status_code == 202
            wait_for_code(mailbox, user.email)
            code = mailbox.code(user.email)
            # A wrong try on B counts against the code issued through A.
            wrong = f"{(int(code) + 1) % 10**8:08d}"
            refused = httpx.post(
                f"{b}/api/auth/password/reset/confirm", json={"email": user.email, "code": wrong, "new_password": NEW}
            )
            assert refused.status_code == 400 and refused.json()["code"] == "invalid_code"

            done = httpx.post(
                f"{a}/api/auth/password/reset/confirm", json={"email": user.email, "code": code, "new_password": NEW}
            )
            assert done.status_code == 200, done.text
            reused = httpx.post(
                f"{b}/api/auth/password/reset/confirm",
                json={"email": user.email, "code": code, "new_password": NEW + "x"},
            )
            assert reused.status_code == 400 and reused.json()["code"] == "invalid_code"

            def all_refused_on_b():
                profile = httpx.get(f"{b}/api/auth/profile", headers={"Authorization": f"Bearer {bearer['access']}"})
                assert profile.status_code == 401 and profile.json()["code"] == "session_revoked"
                assert browser.request("GET", "/api/auth/profile").status_code == 401
                assert session.request("GET", "/api/auth/whoami").status_code == 401
                assert admin.request("GET", "/admin/").status_code == 302  # back to the admin's login
                fresh = httpx.get(f"{b}/api/auth/profile", headers={"Authorization": f"Bearer {done.json()['access']}"})
                assert fresh.status_code == 200

            all_refused_on_b()
            redis_client.flushdb()
            all_refused_on_b()
            assert (
                httpx.post(f"{b}/api/auth/login", json={"email": user.email, "password": PASSWORD}).status_code == 401
            )
            assert httpx.post(f"{b}/api/auth/login", json={"email": user.email, "password": NEW}).status_code == 200
