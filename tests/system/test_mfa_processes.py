"""Second-step guesses in a parallel burst over two server processes sharing one database and Redis."""

import threading
import time

import httpx
import pyotp
import pytest

from accounts import mfa
from tests.helpers import PASSWORD, make_user
from tests.servers import gunicorn
from tokens.models import AuthEvent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live_server_process]

BURST = 24


def _enrolled_user(base: str, email: str) -> str:
    make_user(email)
    tokens = httpx.post(f"{base}/api/auth/login", json={"email": email, "password": PASSWORD}).json()
    headers = {"Authorization": f"Bearer {tokens['access']}"}
    secret = httpx.post(f"{base}/api/auth/mfa/totp", headers=headers).json()["secret"]
    confirmed = httpx.post(
        f"{base}/api/auth/mfa/totp/confirm", headers=headers, json={"code": pyotp.TOTP(secret).now()}
    )
    assert confirmed.status_code == 200, confirmed.text
    return secret


def _burst(bases: list[str], mfa_token: str, codes: list[str]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(codes))
    results: list = [None] * len(codes)

    def worker(index: int) -> None:
        with httpx.Client(timeout=60) as client:
            barrier.wait()
            results[index] = client.post(
                f"{bases[index % len(bases)]}/api/auth/login/mfa", json={"mfa_token": mfa_token, "code": codes[index]}
            )

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(len(codes))]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return results


def test_a_parallel_burst_of_second_step_guesses_over_two_servers_gets_at_most_five_tries(settings):
    with gunicorn(workers=1, threads=8) as server_a, gunicorn(workers=1, threads=8) as server_b:
        secret = _enrolled_user(server_a, "burst@example.com")
        first = httpx.post(f"{server_a}/api/auth/login", json={"email": "burst@example.com", "password": PASSWORD})
        assert first.status_code == 401 and first.json()["code"] == "mfa_required"
        mfa_token = first.json()["mfa_token"]
        right = pyotp.TOTP(secret).now()
        wrong = [f"{(int(right) + 1 + i) % 1_000_000:06d}" for i in range(BURST)]
        results = _burst([server_a, server_b], mfa_token, wrong)
        assert {r.status_code for r in results} == {400}
        assert {r.json()["code"] for r in results} == {"invalid_code"}
        # Only MFA_TOKEN_MAX_TRIES guesses were checked at all, whatever the server.
        checked = AuthEvent.objects.filter(user__email="burst@example.com", kind="mfa_failed").count()
        assert 0 < checked <= settings.MFA_TOKEN_MAX_TRIES
        # And the token is dead: the right code no longer finishes it, on either server.
        for base in (server_a, server_b):
            late = httpx.post(f"{base}/api/auth/login/mfa", json={"mfa_token": mfa_token, "code": right})
            assert late.status_code == 400


def test_the_right_code_sent_twice_at_once_to_two_servers_starts_one_session():
    with gunicorn(workers=1, threads=8) as server_a, gunicorn(workers=1, threads=8) as server_b:
        secret = _enrolled_user(server_a, "twice@example.com")
        from tokens.models import Session

        before = Session.objects.filter(user__email="twice@example.com").count()
        # The next step's code (one step of skew is accepted): the enrolment used the current one.
        code = pyotp.TOTP(secret).at(time.time() + 30)
        tokens = []
        for _ in range(2):
            first = httpx.post(f"{server_a}/api/auth/login", json={"email": "twice@example.com", "password": PASSWORD})
            tokens.append(first.json()["mfa_token"])
        barrier = threading.Barrier(2)
        results: list = [None, None]

        def worker(index: int) -> None:
            with httpx.Client(timeout=60) as client:
                barrier.wait()
                base = (server_a, server_b)[index]
                results[index] = client.post(
                    f"{base}/api/auth/login/mfa", json={"mfa_token": tokens[index], "code": code}
                )

        pool = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        statuses = sorted(r.status_code for r in results)
        assert statuses == [200, 400]
        assert {r.json()["code"] for r in results if r.status_code == 400} == {"invalid_code"}
        after = Session.objects.filter(user__email="twice@example.com").count()
        assert after - before == statuses.count(200)
        assert mfa.has_factor(Session.objects.filter(user__email="twice@example.com").first().user)


def test_one_recovery_code_sent_at_once_to_two_servers_starts_one_session():
    with gunicorn(workers=1, threads=8) as server_a, gunicorn(workers=1, threads=8) as server_b:
        email = "recovery@example.com"
        make_user(email)
        tokens = httpx.post(f"{server_a}/api/auth/login", json={"email": email, "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {tokens['access']}"}
        secret = httpx.post(f"{server_a}/api/auth/mfa/totp", headers=headers).json()["secret"]
        codes = httpx.post(
            f"{server_a}/api/auth/mfa/totp/confirm", headers=headers, json={"code": pyotp.TOTP(secret).now()}
        ).json()["recovery_codes"]
        mfa_tokens = [
            httpx.post(f"{server_a}/api/auth/login", json={"email": email, "password": PASSWORD}).json()["mfa_token"]
            for _ in range(2)
        ]
        barrier = threading.Barrier(2)
        results: list = [None, None]

        def worker(index: int) -> None:
            with httpx.Client(timeout=60) as client:
                barrier.wait()
                results[index] = client.post(
                    f"{(server_a, server_b)[index]}/api/auth/login/mfa",
                    json={"mfa_token": mfa_tokens[index], "code": codes[0]},
                )

        pool = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        assert sorted(r.status_code for r in results) == [200, 400]
