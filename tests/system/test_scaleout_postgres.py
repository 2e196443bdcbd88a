"""PostgreSQL failover under traffic: a primary and a synchronous streaming standby, both real.

FlowAuth (gunicorn) is given both hosts in one DATABASE_URL with
``target_session_attrs=read-write``. Clients rotate refresh tokens and log
sessions out continuously; the primary crashes and the standby is promoted.
Requests meet clean 503s during the switch, then succeed without restarting
FlowAuth; no rotation is half-written (every client's last refresh token
works, no session has two live ones); every acknowledged logout is still
refused after Redis loses its data and is rebuilt from the promoted database.
"""

import subprocess
import sys
import time

import httpx
import pytest

from tests.pg_standby import binaries_available, primary_and_standby
from tests.redis_sentinel import wait_for
from tests.redis_server import throwaway_redis
from tests.servers import BASE_DIR, gunicorn, server_env
from tests.traffic import Clients

pytestmark = [
    pytest.mark.scaleout,
    pytest.mark.live_server_process,
    pytest.mark.skipif(not binaries_available(), reason="needs PostgreSQL 15 binaries (initdb, pg_basebackup)"),
]

PASSWORD = "correct horse battery staple"
ROTATORS = 4
SESSIONS_PER_ROTATOR = 2
LOGOUTS = 24


def _bearer(access: str) -> dict:
    return {"Authorization": f"Bearer {access}"}


def _migrate(url: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=BASE_DIR,
        env=server_env(DATABASE_URL=url),
        check=True,
        capture_output=True,
        timeout=600,
    )


def _session(client: httpx.Client, email: str) -> dict:
    response = client.post("/api/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return response.json()


class Rotators(Clients):
    join_timeout = 60

    def __init__(self, base: str, pairs: list[dict]):
        super().__init__(base, pairs, ROTATORS)
        self.current = [pair["refresh"] for pair in pairs]

    def _run(self, n: int) -> None:
        mine = range(n * SESSIONS_PER_ROTATOR, (n + 1) * SESSIONS_PER_ROTATOR)
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while not self.stop.is_set():
                for index in mine:
                    sent = time.monotonic()
                    try:
                        response = client.post("/api/auth/refresh", json={"refresh": self.current[index]})
                        status = response.status_code
                        code = response.json().get("code", "") if status != 200 else ""
                        if status == 200:
                            self.current[index] = response.json()["refresh"]
                    except httpx.HTTPError as exc:
                        status, code = 0, type(exc).__name__
                    with self.lock:
                        self.results.append((sent, index, status, code))

    def count(self) -> int:
        with self.lock:
            return len(self.results)


def test_standby_promoted_under_traffic_loses_no_acknowledged_write(tmp_path):
    with primary_and_standby() as pair, throwaway_redis(tmp_path) as own_redis:
        url = pair.url("flowauth")
        _migrate(url)
        with (
            gunicorn(
                log_file=tmp_path / "gunicorn.log",
                DATABASE_URL=url,
                REDIS_URL=own_redis.url,
                CONN_MAX_AGE=60,
                CONN_HEALTH_CHECKS=1,
            ) as base,
            httpx.Client(base_url=base, timeout=30) as client,
        ):
            rotating = [_session(client, f"rotate{i}@example.com") for i in range(ROTATORS * SESSIONS_PER_ROTATOR)]
            ending = [_session(client, f"end{i}@example.com") for i in range(LOGOUTS)]
            acked: set[int] = set()
            logout_statuses: list[int] = []

            def logout(index: int) -> None:
                response = client.post("/api/auth/logout", headers=_bearer(ending[index]["access"]), json={})
                logout_statuses.append(response.status_code)
                if response.status_code == 204 or (
                    response.status_code == 401 and response.json()["code"] == "session_revoked"
                ):
                    acked.add(index)

            with Rotators(base, rotating) as rotators:
                for index in range(LOGOUTS // 3):
                    logout(index)
                wait_for(lambda: rotators.count() >= 40, 60, "rotations before the crash")

                killed_at = time.monotonic()
                pair.primary.crash()
                for index in range(LOGOUTS // 3, 2 * LOGOUTS // 3):
                    logout(index)  # 503 while no server accepts writes
                pair.standby.promote()
                wait_for(lambda: not pair.standby.in_recovery(), 60, "the standby to be promoted")
                for index in range(2 * LOGOUTS // 3, LOGOUTS):
                    logout(index)
                for index in range(LOGOUTS):
                    if index not in acked:
                        wait_for(lambda i=index: logout(i) or i in acked, 60, "a logout after the promotion")
                after = rotators.count()
                wait_for(lambda: rotators.count() >= after + 40, 60, "rotations on the promoted standby")

            # Every client's last refresh token works: no rotation was half-written or lost.
            for index, refresh in enumerate(rotators.current):
                response = client.post("/api/auth/refresh", json={"refresh": refresh})
                assert response.status_code == 200, (index, response.text)
            # Redis loses its data: the revocations come back from the promoted database.
            own_redis.client().flushall()
            for index in range(LOGOUTS):
                response = client.get("/api/auth/whoami", headers=_bearer(ending[index]["access"]))
                assert (response.status_code, response.json()["code"]) == (401, "session_revoked"), index
            for pair_tokens in rotating:
                assert client.get("/api/auth/whoami", headers=_bearer(pair_tokens["access"])).status_code in (200, 401)

        live = pair.standby.query(
            "SELECT session_id, count(*) FROM tokens_refreshtoken WHERE used_at IS NULL AND NOT is_revoked "
            "GROUP BY session_id HAVING count(*) > 1",
            "flowauth",
        )
        assert live == [], "a session with two live refresh tokens: a half-written rotation"

    statuses = {r[2] for r in rotators.results}
    assert statuses <= {200, 503}, sorted({(r[2], r[3]) for r in rotators.results})
    assert {r[3] for r in rotators.results if r[2] == 503} == {"auth_unavailable"}
    assert set(logout_statuses) <= {204, 401, 503}
    assert acked == set(range(LOGOUTS))
    unavailable = [r[0] for r in rotators.results if r[2] == 503]
    assert unavailable, "the crash was felt"
    back = min(r[0] for r in rotators.results if r[2] == 200 and r[0] > unavailable[-1])
    print(
        "\npostgres failover:",
        {
            "rotations": len(rotators.results),
            "503s": len(unavailable),
            "window_s": round(unavailable[-1] - unavailable[0], 3),
            "recovered_after_crash_s": round(back - killed_at, 3),
        },
    )
