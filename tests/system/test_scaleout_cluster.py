"""Redis Cluster with real processes: three primaries, three replicas, FlowAuth on gunicorn.

``REDIS_URL=redis+cluster://...`` for every Redis use. The keys a request
reads share the user's slot, and each slot has its own completeness marker
stamped with its primary's epoch. Under traffic: a slot moved to another
primary, a primary killed while its replica lagged behind acknowledged
logouts, a primary flushed. Each time: no token accepted after its logout
was acknowledged, clean 503s only, recovery without restarting FlowAuth.
"""

import time
from collections import Counter

import httpx
import pytest

from tests.helpers import PASSWORD, make_user
from tests.redis_cluster import Cluster, binaries_available, redis_cluster
from tests.redis_sentinel import wait_for
from tests.servers import gunicorn
from tests.traffic import Traffic, bearer, figures
from tokens import revocation, services

pytestmark = [
    pytest.mark.scaleout,
    pytest.mark.live_server_process,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not binaries_available(), reason="needs Debian's redis-server and redis-cli"),
]

USERS = 12
SESSIONS_PER_USER = 3


def user_slot(user_id) -> int:
    return Cluster.slot(revocation.cutoff_key(user_id))


def marker_epoch_of(cluster: Cluster, slot: int) -> tuple[str | None, str]:
    """The slot's marker, read on the node serving it, and that node's epoch."""
    node = cluster.serving(slot)
    info = node.client().info()
    epoch = f"{info['run_id']}:{info['master_replid']}:{info['evicted_keys']}"
    return node.client().get(revocation.slot_key(slot, "complete")), epoch


@pytest.fixture
def cluster(tmp_path):
    with redis_cluster(tmp_path / "cluster") as running:
        yield running


@pytest.fixture
def sessions():
    users = [make_user(f"cluster{i}@example.com") for i in range(USERS)]
    return users, [services.issue_session(user) for user in users for _ in range(SESSIONS_PER_USER)]


def whoami(client: httpx.Client, pair) -> httpx.Response:
    return client.get("/api/auth/whoami", headers=bearer(pair.access))


def warmed(client: httpx.Client, pairs) -> None:
    """Wait out the first rebuild of a fresh cluster (concurrent requests meanwhile get 503)."""
    wait_for(lambda: whoami(client, pairs[-1]).status_code == 200, 30, "the first rebuild")


def assert_ended_and_kept(client, pairs, ended, kept) -> None:
    for index in ended:
        response = whoami(client, pairs[index])
        assert (response.status_code, response.json().get("code")) == (401, "session_revoked"), index
    for index in kept:
        assert whoami(client, pairs[index]).status_code == 200, index


def assert_clean(traffic: Traffic) -> list:
    accepted = traffic.accepted_after_logout()
    assert accepted == [], "a token was accepted after its logout was acknowledged"
    assert [r for r in traffic.results if r[2] not in (200, 401, 503)] == [], "no 500s, no dropped connections"
    assert {r[3] for r in traffic.results if r[2] == 503} <= {"auth_unavailable"}
    return accepted


def sessions_on(cluster: Cluster, pairs, node) -> list[int]:
    """Indexes of the sessions whose user's slot ``node`` serves."""
    return [i for i, pair in enumerate(pairs) if cluster.serving(user_slot(pair.session.user_id)) is node]


def test_a_request_reads_one_slot_in_one_round_trip_and_every_redis_use_works(cluster, sessions, tmp_path):
    users, pairs = sessions
    with (
        gunicorn(log_file=tmp_path / "gunicorn.log", REDIS_URL=cluster.url, COOKIE_SECURE=0) as base,
        httpx.Client(base_url=base, timeout=10) as client,
    ):
        for pair in pairs:  # warm every worker's connections; the first request rebuilds every shard
            assert whoami(client, pair).status_code == 200
        for slot in {user_slot(user.pk) for user in users}:
            marker, epoch = marker_epoch_of(cluster, slot)
            assert marker == epoch

        requests = pairs * 5
        expected = Counter(cluster.serving(user_slot(pair.session.user_id)).port for pair in requests)
        assert len(expected) >= 2, "the users spread over more than one shard"
        before = cluster.commandstats("mget")
        for pair in requests:
            assert whoami(client, pair).status_code == 200
        after = cluster.commandstats("mget")
        per_node = {port: after[port] - before[port] for port in after if after[port] != before[port]}
        # One MGET per request, on the primary serving the user's slot, nothing on the others.
        assert per_node == dict(expected)
        print("\ncluster: MGETs per primary for", len(requests), "requests:", per_node)

        # Logout and logout-all write to the user's slot; the verdict follows on the next request.
        assert client.post("/api/auth/logout", headers=bearer(pairs[0].access), json={}).status_code == 204
        assert client.post("/api/auth/logout-all", headers=bearer(pairs[3].access), json={}).status_code == 204
        assert_ended_and_kept(client, pairs, ended=[0, 3, 4, 5], kept=[1, 2, 6])

        # The other Redis uses: the login throttle, the profile cache, a Django session login.
        with httpx.Client(base_url=base, timeout=10) as browser:
            login = browser.post("/api/auth/login", json={"email": users[2].email, "password": PASSWORD})
            assert login.status_code == 200, login.text
            assert browser.get("/api/auth/profile", headers=bearer(login.json()["access"])).status_code == 200
            csrf = {"X-CSRFToken": browser.get("/api/auth/csrf").json()["csrf_token"]}
            response = browser.post(
                "/api/session/login", json={"email": users[4].email, "password": PASSWORD}, headers=csrf
            )
            assert response.status_code == 200, response.text
            assert browser.get("/api/auth/profile").status_code == 200
            stored = [key for node in cluster.primaries() for key in node.client().keys("flowauth:*")]
            assert any(key.startswith("flowauth:profile:") for key in stored)
            assert any(key.startswith("flowauth:cache:") for key in stored)
            csrf = {"X-CSRFToken": browser.cookies["csrftoken"]}
            assert browser.post("/api/session/logout", json={}, headers=csrf).status_code == 204
            assert browser.get("/api/auth/profile").status_code in (401, 403)
        assert client.get("/api/auth/health").json()["status"] == "ok"


def test_a_slot_moved_to_another_primary_under_traffic_accepts_no_revoked_token(cluster, sessions, tmp_path):
    users, pairs = sessions
    slot = user_slot(users[0].pk)
    source = cluster.serving(slot)
    target = next(node for node in cluster.primaries() if node is not source)
    mine = [i for i, pair in enumerate(pairs) if pair.session.user_id == users[0].pk]
    others = [i for i in range(len(pairs)) if i not in mine]
    with (
        gunicorn(log_file=tmp_path / "gunicorn.log", REDIS_URL=cluster.url, COOKIE_SECURE=0) as base,
        httpx.Client(base_url=base, timeout=10) as client,
        Traffic(base, pairs) as traffic,
    ):
        warmed(client, pairs)
        assert traffic.logout(client, mine[0]) == 204
        assert traffic.logout(client, others[0]) == 204
        wait_for(lambda: len(traffic.results) >= 100, 60, "traffic before the move")
        moved_at = time.monotonic()
        cluster.move_slot(slot, target)
        assert cluster.serving(slot) is target
        # The migrated marker holds the source's epoch: foreign on the target, so the next read rebuilds.
        assert target.client().get(revocation.slot_key(slot, "complete")) is not None
        assert traffic.logout(client, mine[1]) in (204, 503)
        wait_for(lambda: traffic.logout(client, mine[1]) == 204 or mine[1] in traffic.acked, 30, "a logout")
        settle = len(traffic.results) + 200
        wait_for(lambda: len(traffic.results) >= settle, 60, "traffic after the move")
        marker, epoch = marker_epoch_of(cluster, slot)
        assert marker == epoch, "the moved slot was stamped with its new primary's epoch"
        assert_ended_and_kept(client, pairs, ended=[mine[0], mine[1], others[0]], kept=[mine[2], *others[1:4]])
    assert_clean(traffic)
    print("\ncluster slot move:", figures(traffic.results, moved_at), "revoked tokens accepted: 0")


def test_a_primary_killed_while_its_replica_lagged_accepts_no_revoked_token(cluster, sessions, tmp_path):
    users, pairs = sessions
    primary = cluster.serving(user_slot(users[0].pk))
    replica = cluster.replica_of(primary)
    lagging = sessions_on(cluster, pairs, primary)
    kept = [i for i in range(len(pairs)) if i not in lagging][:6]
    with (
        gunicorn(log_file=tmp_path / "gunicorn.log", REDIS_URL=cluster.url, COOKIE_SECURE=0) as base,
        httpx.Client(base_url=base, timeout=10) as client,
        Traffic(base, pairs) as traffic,
    ):
        warmed(client, pairs)
        wait_for(lambda: len(traffic.results) >= 100, 60, "traffic before the fault")
        # The replica stops and its link is cut (bytes already on its socket would still reach it):
        # its primary acknowledges logouts it can no longer pass on.
        replica.pause()
        primary.client().client_kill_filter(_type="replica")
        ended = lagging[::2]
        for index in ended:
            assert traffic.logout(client, index) == 204
        for index in ended:
            pair = pairs[index]
            assert primary.client().exists(revocation.session_key(pair.session.pk, pair.session.user_id))
        killed_at = time.monotonic()
        primary.kill()
        replica.resume()
        cluster.wait_promoted(replica)
        wait_for(lambda: whoami(client, pairs[kept[0]]).status_code != 503, 60, "FlowAuth to answer again")
        settle = len(traffic.results) + 300
        wait_for(lambda: len(traffic.results) >= settle, 60, "traffic on the promoted replica")
        assert_ended_and_kept(client, pairs, ended=ended, kept=kept)
        for index in ended:
            marker, epoch = marker_epoch_of(cluster, user_slot(pairs[index].session.user_id))
            assert marker == epoch, "the promoted replica was rebuilt from the database"
    assert_clean(traffic)
    print("\ncluster primary killed:", figures(traffic.results, killed_at), "revoked tokens accepted: 0")


def test_a_flushed_primary_is_rebuilt_before_any_token_of_its_slots_is_trusted(cluster, sessions, tmp_path):
    users, pairs = sessions
    primary = cluster.serving(user_slot(users[0].pk))
    ended = sessions_on(cluster, pairs, primary)[::2]
    with (
        gunicorn(log_file=tmp_path / "gunicorn.log", REDIS_URL=cluster.url, COOKIE_SECURE=0) as base,
        httpx.Client(base_url=base, timeout=10) as client,
        Traffic(base, pairs) as traffic,
    ):
        warmed(client, pairs)
        for index in ended:
            assert traffic.logout(client, index) == 204
        wait_for(lambda: len(traffic.results) >= 100, 60, "traffic before the flush")
        flushed_at = time.monotonic()
        primary.client().flushall()
        settle = len(traffic.results) + 200
        wait_for(lambda: len(traffic.results) >= settle, 60, "traffic after the flush")
        assert primary.client().exists(revocation.slot_key(user_slot(users[0].pk), "complete"))
        assert_ended_and_kept(client, pairs, ended=ended, kept=[i for i in range(len(pairs)) if i not in ended][:6])
    assert_clean(traffic)
    print("\ncluster primary flushed:", figures(traffic.results, flushed_at), "revoked tokens accepted: 0")
