"""Redis Sentinel failover under traffic, with real processes.

A primary, a replica and three Sentinels (Debian's redis-server and
redis-sentinel), FlowAuth served by gunicorn with a ``redis+sentinel://``
REDIS_URL. Sessions are logged out continuously while clients make
authenticated requests; a few logouts are acknowledged while the replica is
stopped (so it never receives them), then the primary is killed and the
Sentinels promote the replica. No token is accepted after its logout was
acknowledged; 503s are clean and end without restarting FlowAuth.
"""

import random
import threading
import time

import httpx
import pytest

from tests.helpers import PASSWORD, make_user
from tests.redis_sentinel import binaries_available, sentinel_group, wait_for
from tests.servers import gunicorn
from tokens import revocation, services

pytestmark = [
    pytest.mark.scaleout,
    pytest.mark.live_server_process,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not binaries_available(), reason="needs Debian's redis-server and redis-sentinel"),
]

SESSIONS = 60
UNREPLICATED = 5  # logouts acknowledged by the primary while the replica is stopped
CHECKERS = 4


def _bearer(access: str) -> dict:
    return {"Authorization": f"Bearer {access}"}


class Traffic:
    """Checkers call whoami with random tokens; the ledger says which logouts were acknowledged, when."""

    def __init__(self, base: str, pairs: list):
        self.base, self.pairs = base, pairs
        self.acked: dict[int, float] = {}
        self.results: list[tuple[float, int, int, str]] = []  # (sent at, session index, status, code)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._check, args=(seed,), daemon=True) for seed in range(CHECKERS)]

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def _check(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while not self.stop.is_set():
                index = rng.randrange(len(self.pairs))
                sent = time.monotonic()
                try:
                    response = client.get("/api/auth/whoami", headers=_bearer(self.pairs[index].access))
                    status, code = response.status_code, (response.json().get("code", "") if response.content else "")
                except httpx.HTTPError as exc:
                    status, code = 0, f"{type(exc).__name__} after {time.monotonic() - sent:.1f}s"
                with self.lock:
                    self.results.append((sent, index, status, code))

    def logout(self, client: httpx.Client, index: int) -> int:
        response = client.post("/api/auth/logout", headers=_bearer(self.pairs[index].access), json={})
        if response.status_code == 204 or (
            response.status_code == 401 and response.json()["code"] == "session_revoked"
        ):
            with self.lock:
                self.acked.setdefault(index, time.monotonic())
        return response.status_code

    def accepted_after_logout(self) -> list:
        with self.lock:
            return [r for r in self.results if r[2] == 200 and r[1] in self.acked and self.acked[r[1]] < r[0]]


def _figures(results: list, killed_at: float) -> dict:
    after = sorted(r for r in results if r[0] >= killed_at)
    unavailable = [r[0] for r in after if r[2] == 503]
    if not unavailable:
        return {"requests": len(results), "503s": 0, "window_s": 0.0}
    answered_again = next((r[0] for r in after if r[0] > unavailable[-1] and r[2] in (200, 401)), None)
    return {
        "requests": len(results),
        "503s": len(unavailable),
        "window_s": round(unavailable[-1] - unavailable[0], 3),
        "recovered_after_kill_s": round((answered_again or unavailable[-1]) - killed_at, 3),
    }


def test_failover_to_a_lagging_replica_accepts_no_revoked_token(tmp_path):
    users = [make_user(f"sentinel{i}@example.com") for i in range(4)]
    pairs = [services.issue_session(users[i % len(users)]) for i in range(SESSIONS)]
    order = list(range(SESSIONS))
    random.Random(13).shuffle(order)
    first, lagging, rest = order[:15], order[15 : 15 + UNREPLICATED], order[15 + UNREPLICATED : SESSIONS - 10]
    keep = order[SESSIONS - 10 :]  # never logged out: they must work again after the failover

    with (
        sentinel_group(tmp_path) as group,
        gunicorn(log_file=tmp_path / "gunicorn.log", REDIS_URL=group.url, COOKIE_SECURE=0) as base,
        httpx.Client(base_url=base, timeout=10) as client,
        Traffic(base, pairs) as traffic,
    ):
        for index in first:
            assert traffic.logout(client, index) == 204

        # The replica stops; the primary acknowledges logouts it cannot pass on.
        group.replica.pause()
        for index in lagging:
            assert traffic.logout(client, index) == 204
        primary = group.primary.client()
        for index in lagging:
            assert primary.exists(revocation.session_key(str(pairs[index].session.pk), pairs[index].session.user_id))
        replication = primary.info("replication")
        assert replication["master_repl_offset"] > replication["slave0"]["offset"]

        killed_at = time.monotonic()
        group.primary.kill()
        group.replica.resume()

        # Logouts go on through the failover: 503 until a primary answers, then 204.
        statuses = set()
        for index in rest:
            statuses.add(traffic.logout(client, index))
        wait_for(lambda: group.named_primary()[1] == group.replica.port, 60, "the Sentinels to promote the replica")

        def answered(index):
            return client.get("/api/auth/whoami", headers=_bearer(pairs[index].access)).status_code != 503

        wait_for(lambda: answered(keep[0]), 60, "FlowAuth to answer again without a restart")
        for index in rest:  # those that met a 503 are logged out now
            if index not in traffic.acked:
                wait_for(lambda i=index: traffic.logout(client, i) == 204 or i in traffic.acked, 30, "a logout")
        # More traffic on the promoted replica, after every logout.
        settle = len(traffic.results) + 200
        wait_for(lambda: len(traffic.results) >= settle, 60, "traffic on the new primary")

        # The promoted replica was rebuilt from the database: its marker is its own epoch.
        promoted = group.replica.client()
        info = promoted.info()
        assert promoted.get(revocation.MARKER_KEY) == f"{info['run_id']}:{info['master_replid']}:{info['evicted_keys']}"
        ended = first + lagging + rest
        assert set(ended) <= set(traffic.acked)
        for index in ended:
            response = client.get("/api/auth/whoami", headers=_bearer(pairs[index].access))
            assert (response.status_code, response.json()["code"]) == (401, "session_revoked"), index
        for index in keep:
            assert client.get("/api/auth/whoami", headers=_bearer(pairs[index].access)).status_code == 200

        # Steady state on the new primary: one MGET per authenticated request, and the Sentinels
        # are not asked again (they are asked once per new connection, not per request).
        traffic.stop.set()
        for thread in traffic.threads:
            thread.join(timeout=30)

        def calls(node, command):
            return int(node.client().info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0))

        mgets, asked = calls(group.replica, "mget"), sum(calls(node, "sentinel") for node in group.sentinels)
        for _ in range(50):
            assert client.get("/api/auth/whoami", headers=_bearer(pairs[keep[1]].access)).status_code == 200
        assert calls(group.replica, "mget") - mgets == 50
        assert sum(calls(node, "sentinel") for node in group.sentinels) == asked

        # The health check reads the current primary's state; a flush there is rebuilt from the database.
        assert client.get("/api/auth/health").json()["status"] == "ok"
        promoted.flushall()
        for index in lagging:
            response = client.get("/api/auth/whoami", headers=_bearer(pairs[index].access))
            assert (response.status_code, response.json()["code"]) == (401, "session_revoked")

        # The other Redis uses follow the promoted replica too: the login throttle, the profile
        # cache, and a Django session login (its session lives in the Django cache).
        with httpx.Client(base_url=base, timeout=10) as browser:
            login = browser.post("/api/auth/login", json={"email": users[0].email, "password": PASSWORD})
            assert login.status_code == 200, login.text
            assert browser.get("/api/auth/profile", headers=_bearer(login.json()["access"])).status_code == 200
            csrf = {"X-CSRFToken": browser.get("/api/auth/csrf").json()["csrf_token"]}
            assert (
                browser.post(
                    "/api/session/login", json={"email": users[1].email, "password": PASSWORD}, headers=csrf
                ).status_code
                == 200
            )
            assert browser.get("/api/auth/profile").status_code == 200
            assert promoted.keys("flowauth:profile:*") and promoted.keys("flowauth:cache:*")
            csrf = {"X-CSRFToken": browser.cookies["csrftoken"]}  # login rotated it
            assert browser.post("/api/session/logout", json={}, headers=csrf).status_code == 204
            assert browser.get("/api/auth/profile").status_code in (401, 403)

    accepted = traffic.accepted_after_logout()
    assert accepted == []
    dropped = [(round(r[0] - killed_at, 3), r[3]) for r in traffic.results if r[2] not in (200, 401, 503)]
    assert dropped == [], "no 500s, no dropped connections"
    assert {r[3] for r in traffic.results if r[2] == 503} == {"auth_unavailable"}
    assert 503 in statuses or any(r[2] == 503 for r in traffic.results), "the kill was felt"
    print("\nsentinel failover:", _figures(traffic.results, killed_at), "revoked tokens accepted:", len(accepted))
