"""Several real server processes over one database and one Redis."""

from collections import Counter

import httpx
import pytest

from tests.helpers import PASSWORD, burst, claims, make_user
from tests.servers import gunicorn
from tokens.models import RefreshToken, Session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live_server_process]


def _login(base: str, email: str) -> dict:
    response = httpx.post(f"{base}/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()


def _whoami(base: str, access: str) -> httpx.Response:
    return httpx.get(f"{base}/api/auth/whoami", headers={"Authorization": f"Bearer {access}"})


def test_logout_on_one_server_is_enforced_by_another_on_the_next_request():
    user = make_user("multi@example.com")
    with gunicorn() as server_a, gunicorn() as server_b:
        tokens = _login(server_a, user.email)
        assert _whoami(server_b, tokens["access"]).status_code == 200
        logout = httpx.post(f"{server_a}/api/auth/logout", headers={"Authorization": f"Bearer {tokens['access']}"})
        assert logout.status_code == 204
        refused = [_whoami(server_b, tokens["access"]) for _ in range(10)]
        assert {r.status_code for r in refused} == {401}
        assert {r.json()["code"] for r in refused} == {"session_revoked"}


def _race(base: str, refresh: str, threads: int) -> list[httpx.Response]:
    def refresh_once() -> httpx.Response:
        with httpx.Client(timeout=60) as client:
            return client.post(f"{base}/api/auth/refresh", json={"refresh": refresh})

    return burst([refresh_once] * threads)


RACERS = 50  # docs/security.md ROT-09: 50 requests over two workers, released together


def test_fifty_concurrent_refreshes_of_one_token_leave_one_live_refresh_token():
    user = make_user("race@example.com")
    with gunicorn(workers=2, threads=8) as server:
        tokens = _login(server, user.email)
        results = _race(server, tokens["refresh"], threads=RACERS)
        statuses = Counter(r.status_code for r in results)
        assert statuses == {200: RACERS}, statuses
        refresh_jtis = {claims(r.json()["refresh"])["jti"] for r in results}
        assert len(refresh_jtis) == 1
        session = Session.objects.get()
        assert session.revoked_at is None
        live = RefreshToken.objects.filter(session=session, used_at__isnull=True, is_revoked=False)
        assert list(live.values_list("jti", flat=True)) == list(refresh_jtis)
        assert RefreshToken.objects.filter(session=session).count() == 2
        # The survivor keeps working.
        assert (
            httpx.post(
                f"{server}/api/auth/refresh", json={"refresh": refresh_jtis and results[0].json()["refresh"]}
            ).status_code
            == 200
        )


def test_without_grace_concurrent_refreshes_give_one_winner_and_end_the_session():
    user = make_user("race0@example.com")
    with gunicorn(workers=2, threads=8, REFRESH_GRACE_SECONDS=0) as server:
        tokens = _login(server, user.email)
        results = _race(server, tokens["refresh"], threads=RACERS)
        statuses = Counter(r.status_code for r in results)
        assert statuses[200] == 1 and statuses[401] == RACERS - 1, statuses
        assert {r.json()["code"] for r in results if r.status_code == 401} <= {"refresh_reused", "session_revoked"}
        assert Session.objects.get().revoked_at is not None
        assert not RefreshToken.objects.filter(is_revoked=False, used_at__isnull=True).exists()


def test_replay_after_the_window_on_one_server_revokes_on_all():
    user = make_user("replay@example.com")
    with gunicorn(REFRESH_GRACE_SECONDS=0) as server_a, gunicorn(REFRESH_GRACE_SECONDS=0) as server_b:
        tokens = _login(server_a, user.email)
        second = httpx.post(f"{server_a}/api/auth/refresh", json={"refresh": tokens["refresh"]}).json()
        replay = httpx.post(f"{server_b}/api/auth/refresh", json={"refresh": tokens["refresh"]})
        assert replay.json()["code"] == "refresh_reused"
        assert _whoami(server_a, second["access"]).json()["code"] == "session_revoked"


def test_logout_all_through_one_worker_is_enforced_by_every_worker():
    user = make_user("everywhere@example.com")
    with gunicorn(workers=3, threads=1) as server:
        phone, laptop = _login(server, user.email), _login(server, user.email)
        assert _whoami(server, phone["access"]).status_code == 200
        response = httpx.post(f"{server}/api/auth/logout-all", headers={"Authorization": f"Bearer {laptop['access']}"})
        assert response.status_code == 204
        for _ in range(6):  # fresh connections land on any of the three worker processes
            for tokens in (phone, laptop):
                refused = _whoami(server, tokens["access"])
                assert refused.status_code == 401 and refused.json()["code"] == "session_revoked"
        refresh = httpx.post(f"{server}/api/auth/refresh", json={"refresh": phone["refresh"]})
        assert refresh.json()["code"] == "session_revoked"
