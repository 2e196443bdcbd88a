"""Redis Sentinel failover under traffic, with real processes.

A primary, a replica and three Sentinels (Debian's redis-server and
redis-sentinel), FlowAuth served by gunicorn with a ``redis+sentinel://``
REDIS_URL. Sessions are logged out continuously while clients make
authenticated requests; a few logouts are acknowledged while the replica is
stopped (so it never receives them), then the primary is killed and the
Sentinels promote the replica. No token is accepted after its logout was
acknowledged; 503s are clean and end without restarting FlowAuth. Run with
the local verdict cache on (the default: its tracking connection follows the
Sentinels' primary) and off (an MGET on every request).
"""

import random
import time

import httpx
import pytest

from tests.helpers import PASSWORD, make_user
from tests.redis_sentinel import binaries_available, sentinel_group, wait_for
from tests.servers import gunicorn
from tests.system.test_local_cache_processes import local_hits
from tests.traffic import Traffic, bearer, figures
from tokens import revocation, services, tracking

pytestmark = [
    pytest.mark.scaleout,
    pytest.mark.live_server_process,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not binaries_available(), reason="needs Debian's redis-server and redis-sentinel"),
]

SESSIONS = 60
UNREPLICATED = 5  # logouts acknowledged by the primary while the replica is stopped


@pytest.mark.parametrize("local_cache", ["on", "off"], ids=["local-cache-on", "local-cache-off"])
def test_failover_to_a_lagging_replica_accepts_no_revoked_token(tmp_path, local_cache):
    users = [make_user(f"sentinel{i}@example.com") for i in range(4)]
    pairs = [services.issue_session(users[i % len(users)]) for i in range(SESSIONS)]
    order = list(range(SESSIONS))
    random.Random(13).shuffle(order)
    first, lagging, rest = order[:15], order[15 : 15 + UNREPLICATED], order[15 + UNREPLICATED : SESSIONS - 10]
    keep = order[SESSIONS - 10 :]  # never logged out: they must work again after the failover

    with (
        sentinel_group(tmp_path) as group,
        gunicorn(
            log_file=tmp_path / "gunicorn.log",
            REDIS_URL=group.url,
            COOKIE_SECURE=0,
            REVOCATION_LOCAL_CACHE=int(local_cache == "on"),
        ) as base,
        httpx.Client(base_url=base, timeout=10) as client,
        Traffic(base, pairs) as traffic,
    ):
        for index in first:
            assert traffic.logout(client, index) == 204

        # The replica stops and its link is cut (bytes already on its socket would still reach it):
        # the primary acknowledges logouts it can no longer pass on.
        group.replica.pause()
        group.primary.client().client_kill_filter(_type="replica")
        for index in lagging:
            assert traffic.logout(client, index) == 204
        primary = group.primary.client()
        for index in lagging:
            assert primary.exists(revocation.session_key(str(pairs[index].session.pk), pairs[index].session.user_id))
        assert primary.info("replication")["connected_slaves"] == 0

        killed_at = time.monotonic()
        group.primary.kill()
        group.replica.resume()

        # Logouts go on through the failover: 503 until a primary answers, then 204.
        statuses = set()
        for index in rest:
            statuses.add(traffic.logout(client, index))
        wait_for(lambda: group.named_primary()[1] == group.replica.port, 60, "the Sentinels to promote the replica")

        def answered(index):
            return client.get("/api/auth/whoami", headers=bearer(pairs[index].access)).status_code != 503

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
            response = client.get("/api/auth/whoami", headers=bearer(pairs[index].access))
            assert (response.status_code, response.json()["code"]) == (401, "session_revoked"), index
        for index in keep:
            assert client.get("/api/auth/whoami", headers=bearer(pairs[index].access)).status_code == 200

        # Steady state on the new primary: one MGET per authenticated request (cache off) or
        # answers from the map, kept by a tracking connection on the new primary (cache on);
        # the Sentinels are not asked again (once per new connection, not per request).
        traffic.stop.set()
        for thread in traffic.threads:
            thread.join(timeout=30)

        def calls(node, command):
            return int(node.client().info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0))

        def tracking_clients(node) -> int:
            return sum(c.get("name") == tracking.CLIENT_NAME for c in node.client().client_list())

        def window(requests: int = 50) -> tuple[float, int]:
            """Local hits (all workers, /metrics) and MGETs on the new primary over ``requests`` requests."""
            hits, mgets = local_hits(base), calls(group.replica, "mget")
            for _ in range(requests):
                assert client.get("/api/auth/whoami", headers=bearer(pairs[keep[1]].access)).status_code == 200
            return local_hits(base) - hits, calls(group.replica, "mget") - mgets

        asked = sum(calls(node, "sentinel") for node in group.sentinels)
        if local_cache == "on":
            # The workers' tracking connections follow the Sentinels to the new primary, and the map
            # answers again there: 40 of 50 requests or more from the map, 10 MGETs at most.
            wait_for(lambda: (lambda hits, mgets: hits >= 40 and mgets <= 10)(*window()), 30, "the map to answer")
            assert tracking_clients(group.replica) >= 1
        else:
            assert window()[1] == 50
            assert tracking_clients(group.replica) == 0
        assert sum(calls(node, "sentinel") for node in group.sentinels) == asked

        # The health check reads the current primary's state; a flush there is rebuilt from the database.
        assert client.get("/api/auth/health").json()["status"] == "ok"
        promoted.flushall()
        for index in lagging:
            response = client.get("/api/auth/whoami", headers=bearer(pairs[index].access))
            assert (response.status_code, response.json()["code"]) == (401, "session_revoked")

        # The other Redis uses follow the promoted replica too: the login throttle, the profile
        # cache, and a Django session login (its session lives in the Django cache).
        with httpx.Client(base_url=base, timeout=10) as browser:
            login = browser.post("/api/auth/login", json={"email": users[0].email, "password": PASSWORD})
            assert login.status_code == 200, login.text
            assert browser.get("/api/auth/profile", headers=bearer(login.json()["access"])).status_code == 200
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
    print(
        f"\nsentinel failover, local cache {local_cache}:",
        figures(traffic.results, killed_at),
        "revoked tokens accepted:",
        len(accepted),
    )
