"""A Redis that accepts connections and never answers: 503 within the socket
timeout, and no worker is held hostage."""

import threading
import time

import httpx
import pytest

from tests import servers
from tests.helpers import bearer, error_code, make_user
from tests.redis_server import blackhole
from tokens import services

WHOAMI = "/api/auth/whoami"
# Far below what a hang would cost (gunicorn's 60 s worker timeout), far above 0.5 s.
BOUND = 5.0


@pytest.mark.django_db
def test_a_hung_redis_is_503_in_process_and_health_does_not_hang(api, session_tokens, token_settings):
    with blackhole() as url:
        token_settings(REDIS_URL=url, REDIS_SOCKET_TIMEOUT=0.5)
        started = time.monotonic()
        response = api.get(WHOAMI, **bearer(session_tokens["access"]))
        assert response.status_code == 503 and error_code(response) == "auth_unavailable"
        health = api.get("/api/auth/health")
        assert time.monotonic() - started < BOUND
        assert health.status_code == 503
        assert health.json()["redis"] == "unavailable" and health.json()["database"] == "connected"


@pytest.mark.live_server_process
@pytest.mark.django_db(transaction=True)
def test_a_burst_against_a_hung_redis_gets_503s_and_leaves_workers_serving():
    user = make_user("hang@example.com")
    access = services.issue_session(user).access
    with blackhole() as url, servers.gunicorn(workers=2, threads=2, REDIS_URL=url, REDIS_SOCKET_TIMEOUT=0.5) as base:
        results: list = []

        def call():
            with httpx.Client(timeout=30) as client:
                started = time.monotonic()
                response = client.get(f"{base}{WHOAMI}", headers={"Authorization": f"Bearer {access}"})
                results.append((response.status_code, response.json().get("code"), time.monotonic() - started))

        threads = [threading.Thread(target=call) for _ in range(16)]  # 4x the worker threads
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert {(status, code) for status, code, _ in results} == {(503, "auth_unavailable")}
        # Queued behind each other 4 at a time, each bounded by the socket timeout.
        assert max(elapsed for *_, elapsed in results) < 4 * BOUND

        login = httpx.post(f"{base}/api/auth/login", json={"email": user.email, "password": "x"}, timeout=30)
        assert login.status_code == 503 and login.json()["code"] == "auth_unavailable"
        health = httpx.get(f"{base}/api/auth/health", timeout=30)
        assert health.status_code == 503 and health.json()["redis"] == "unavailable"
