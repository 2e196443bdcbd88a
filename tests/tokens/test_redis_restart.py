"""A real Redis of the test's own, stopped, emptied, restarted and restored from
an old snapshot while the service runs: revoked stays revoked, live tokens come
back without restarting the application, and nothing answers 5xx but the
designed 503."""

import httpx
import pytest

from tests import servers
from tests.helpers import PASSWORD, bearer, error_code, login, make_user, session_key_of
from tests.redis_server import throwaway_redis
from tokens import revocation

pytestmark = pytest.mark.django_db

WHOAMI = "/api/auth/whoami"


@pytest.fixture
def own_redis(tmp_path, token_settings):
    """The revocation store on a throwaway redis-server (throttles stay on the suite's Redis)."""
    with throwaway_redis(tmp_path) as server:
        token_settings(REDIS_URL=server.url, REDIS_SOCKET_TIMEOUT=0.5)
        yield server


@pytest.fixture
def sessions(api, user, own_redis):
    """One session logged out while Redis was healthy, one live."""
    revoked, live = login(api, user.email), login(api, user.email)
    assert api.post("/api/auth/logout", **bearer(revoked["access"])).status_code == 204
    return revoked, live


def whoami(api, tokens):
    return api.get(WHOAMI, **bearer(tokens["access"]))


def assert_unavailable(response):
    assert response.status_code == 503, response.content
    assert error_code(response) == "auth_unavailable"
    assert int(response["Retry-After"]) > 0


def assert_revoked_and_live(api, revoked, live, times: int = 3):
    for _ in range(times):
        refused = whoami(api, revoked)
        assert refused.status_code == 401 and error_code(refused) == "session_revoked"
        assert whoami(api, live).status_code == 200


def test_redis_stopped_then_restarted_empty_fails_closed_then_recovers_by_itself(api, own_redis, sessions):
    revoked, live = sessions
    assert_revoked_and_live(api, revoked, live)
    own_redis.stop()
    for tokens in (live, revoked, live):
        assert_unavailable(whoami(api, tokens))
    own_redis.start()  # no persistence: an empty server, a new run_id
    assert own_redis.client().get(revocation.MARKER_KEY) is None
    assert_revoked_and_live(api, revoked, live)
    assert own_redis.client().get(revocation.MARKER_KEY) == own_redis.epoch()


def test_database_mode_keeps_answering_through_the_outage(
    api, own_redis, sessions, token_settings, django_assert_num_queries
):
    revoked, live = sessions
    token_settings(REDIS_URL=own_redis.url, REDIS_SOCKET_TIMEOUT=0.5, REVOCATION_FAILURE_MODE="database")
    own_redis.stop()
    assert_revoked_and_live(api, revoked, live)
    own_redis.start()
    assert_revoked_and_live(api, revoked, live, times=1)  # the first request rebuilds the cache
    with django_assert_num_queries(0):
        assert whoami(api, live).status_code == 200


def test_flushdb_between_two_requests_is_detected_and_repaired(api, own_redis, sessions):
    revoked, live = sessions
    assert_revoked_and_live(api, revoked, live, times=1)
    own_redis.client().flushdb()
    assert_revoked_and_live(api, revoked, live)
    assert own_redis.client().ttl(session_key_of(revoked["access"])) > 0


def test_a_restart_from_a_stale_snapshot_with_the_old_marker_still_refuses(api, user, own_redis):
    first, second, live = login(api, user.email), login(api, user.email), login(api, user.email)
    api.post("/api/auth/logout", **bearer(first["access"]))
    assert whoami(api, live).status_code == 200  # cache complete, marker = this run
    own_redis.client().save()  # the snapshot: marker included, second not yet revoked
    old_epoch = own_redis.epoch()
    assert api.post("/api/auth/logout", **bearer(second["access"])).status_code == 204
    own_redis.stop()
    own_redis.start()  # loads the old dump.rdb
    client = own_redis.client()
    assert client.get(revocation.MARKER_KEY) == old_epoch != own_redis.epoch()
    assert not client.exists(session_key_of(second["access"]))
    assert_revoked_and_live(api, second, live)
    assert_revoked_and_live(api, first, live, times=1)


def test_a_revocation_while_redis_is_down_is_refused_and_completes_on_retry(api, user, own_redis):
    tokens = login(api, user.email)
    own_redis.stop()
    assert_unavailable(api.post("/api/auth/logout", **bearer(tokens["access"])))
    own_redis.start()
    assert api.post("/api/auth/logout", **bearer(tokens["access"])).status_code == 204
    assert error_code(whoami(api, tokens)) == "session_revoked"


def test_writes_paused_logout_is_503_and_nothing_is_committed(api, user, own_redis):
    from tokens.models import Session

    tokens = login(api, user.email)
    assert whoami(api, tokens).status_code == 200
    own_redis.client().execute_command("CLIENT", "PAUSE", "30000", "WRITE")  # reads pass, writes hang
    assert whoami(api, tokens).status_code == 200
    assert_unavailable(api.post("/api/auth/logout", **bearer(tokens["access"])))
    assert Session.objects.get().revoked_at is None


def test_health_reports_an_evicting_policy_and_evictions(api, tmp_path, token_settings):
    with throwaway_redis(tmp_path, "--maxmemory-policy", "volatile-lru", "--maxmemory", "4mb") as server:
        token_settings(REDIS_URL=server.url, REDIS_SOCKET_TIMEOUT=0.5)
        body = api.get("/api/auth/health").json()
        assert body["redisEvictionPolicy"] == "volatile-lru"
        assert any("volatile-lru" in warning for warning in body["warnings"])
        client = server.client()
        for index in range(200):  # ~6 MB of keys with a TTL: more than maxmemory
            client.set(f"filler:{index}", "x" * 32_000, ex=600)
        assert client.info("stats")["evicted_keys"] > 0
        body = api.get("/api/auth/health").json()
        assert body["redisEvictedKeys"] > 0
        assert any("evicted" in warning for warning in body["warnings"])


def _evict_revocation_keys(client, revoked: dict) -> None:
    """Fill Redis past maxmemory with longer-lived keys: volatile-ttl evicts the revocation keys first."""
    client.config_set("maxmemory-samples", "64")  # near-exact: the shortest TTL is found, not sampled past
    for index in range(400):  # ~12.8 MB with a TTL of a day: well over maxmemory
        client.set(f"filler:{index}", "x" * 32_000, ex=86_400)
    assert not client.exists(session_key_of(revoked["access"])), "the revocation key should have been evicted"


def test_an_evicting_redis_is_never_trusted(api, user, tmp_path, token_settings):
    with throwaway_redis(tmp_path, "--maxmemory", "8mb", "--maxmemory-policy", "volatile-ttl") as server:
        database_mode = {"REDIS_URL": server.url, "REDIS_SOCKET_TIMEOUT": 0.5, "REVOCATION_FAILURE_MODE": "database"}
        token_settings(**database_mode)  # the database answers for the untrusted cache, so logout works
        revoked, live = login(api, user.email), login(api, user.email)
        assert api.post("/api/auth/logout", **bearer(revoked["access"])).status_code == 204
        _evict_revocation_keys(server.client(), revoked)
        assert error_code(whoami(api, revoked)) == "session_revoked"
        assert whoami(api, live).status_code == 200
        token_settings(**{**database_mode, "REVOCATION_FAILURE_MODE": "closed"})
        for tokens in (revoked, live):
            assert_unavailable(whoami(api, tokens))
        health = api.get("/api/auth/health")
        assert health.status_code == 503 and "not trusted" in " ".join(health.json()["warnings"])


def test_an_eviction_policy_set_at_run_time_is_noticed_on_open_connections(api, sessions, own_redis, token_settings):
    revoked, live = sessions
    assert_revoked_and_live(api, revoked, live, times=1)  # pooled connections know "noeviction"
    token_settings(REDIS_URL=own_redis.url, REDIS_SOCKET_TIMEOUT=0.5, SERVER_STATE_MAX_AGE=0)
    client = own_redis.client()
    client.config_set("maxmemory", "8mb")
    client.config_set("maxmemory-policy", "volatile-ttl")
    _evict_revocation_keys(client, revoked)
    assert_unavailable(whoami(api, revoked))  # re-read within the same round trip: never a 200
    # Back to noeviction: the evictions changed the epoch, so the cache is rebuilt before it is trusted.
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", "0")
    assert_revoked_and_live(api, revoked, live)
    assert client.get(revocation.MARKER_KEY) == own_redis.epoch()
    assert own_redis.epoch().endswith(f":{client.info('stats')['evicted_keys']}")


def test_the_health_check_notices_evictions_on_connections_opened_before(api, sessions, own_redis):
    revoked, live = sessions
    assert_revoked_and_live(api, revoked, live, times=1)
    client = own_redis.client()
    client.config_set("maxmemory", "8mb")
    client.config_set("maxmemory-policy", "volatile-ttl")
    _evict_revocation_keys(client, revoked)
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", "0")
    health = api.get("/api/auth/health")  # reads the server's state afresh, sees the evictions, rebuilds
    assert health.status_code == 200 and health.json()["redisEvictedKeys"] > 0
    assert_revoked_and_live(api, revoked, live)


def test_health_has_no_eviction_warning_with_noeviction(api, own_redis):
    body = api.get("/api/auth/health").json()
    assert body["redisEvictionPolicy"] == "noeviction"
    assert "warnings" not in body


# --- the same through real gunicorn processes --------------------------------


def _login(base: str, email: str) -> dict:
    response = httpx.post(f"{base}/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()


def _whoami(base: str, tokens: dict) -> httpx.Response:
    return httpx.get(f"{base}/api/auth/whoami", headers={"Authorization": f"Bearer {tokens['access']}"}, timeout=10)


def _logout(base: str, tokens: dict) -> httpx.Response:
    return httpx.post(f"{base}/api/auth/logout", headers={"Authorization": f"Bearer {tokens['access']}"}, timeout=10)


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "auth_unavailable"
    assert int(response.headers["Retry-After"]) > 0


def _assert_revoked_and_live(base: str, revoked: dict, live: dict, times: int = 6) -> None:
    for _ in range(times):  # several requests: both workers, several pooled connections
        refused = _whoami(base, revoked)
        assert refused.status_code == 401 and refused.json()["code"] == "session_revoked"
        assert _whoami(base, live).status_code == 200


@pytest.mark.live_server_process
@pytest.mark.django_db(transaction=True)
def test_gunicorn_through_stop_start_and_a_stale_snapshot(tmp_path):
    user = make_user("outage@example.com")
    with (
        throwaway_redis(tmp_path) as redis_server,
        servers.gunicorn(workers=2, threads=4, REDIS_URL=redis_server.url, REDIS_SOCKET_TIMEOUT=0.5) as base,
    ):
        revoked, live, later = (_login(base, user.email) for _ in range(3))
        assert _logout(base, revoked).status_code == 204
        _assert_revoked_and_live(base, revoked, live)

        redis_server.stop()
        for tokens in (live, revoked, live, revoked):
            _assert_unavailable(_whoami(base, tokens))
        _assert_unavailable(httpx.post(f"{base}/api/auth/login", json={"email": user.email, "password": "x"}))
        _assert_unavailable(httpx.post(f"{base}/api/auth/refresh", json={"refresh": live["refresh"]}))
        health = httpx.get(f"{base}/api/auth/health")
        assert health.status_code == 503 and health.json()["redis"] == "unavailable"

        redis_server.start()  # empty: everything rebuilt from the database, no app restart
        _assert_revoked_and_live(base, revoked, live)
        assert httpx.get(f"{base}/api/auth/health").status_code == 200

        redis_server.client().save()
        assert _logout(base, later).status_code == 204
        redis_server.stop()
        redis_server.start()  # the snapshot from before the logout, with its marker
        _assert_revoked_and_live(base, later, live)
        _assert_revoked_and_live(base, revoked, live, times=2)


@pytest.mark.live_server_process
@pytest.mark.django_db(transaction=True)
def test_under_traffic_through_three_restarts_a_revoked_session_is_never_accepted(tmp_path):
    import threading
    import time
    from collections import Counter

    user = make_user("traffic@example.com")
    with (
        throwaway_redis(tmp_path) as redis_server,
        servers.gunicorn(workers=2, threads=4, REDIS_URL=redis_server.url, REDIS_SOCKET_TIMEOUT=0.5) as base,
    ):
        revoked, live = _login(base, user.email), _login(base, user.email)
        assert _logout(base, revoked).status_code == 204
        seen, stop = Counter(), threading.Event()

        def traffic():
            with httpx.Client(timeout=10) as client:
                while not stop.is_set():
                    for name, tokens in (("revoked", revoked), ("live", live)):
                        headers = {"Authorization": f"Bearer {tokens['access']}"}
                        seen[(name, client.get(f"{base}/api/auth/whoami", headers=headers).status_code)] += 1

        def wait_for(total: int) -> None:
            deadline = time.monotonic() + 30
            while sum(seen.values()) < total and time.monotonic() < deadline:
                time.sleep(0.01)

        threads = [threading.Thread(target=traffic) for _ in range(3)]
        for thread in threads:
            thread.start()
        try:
            for _ in range(3):
                wait_for(sum(seen.values()) + 30)
                redis_server.stop()
                wait_for(sum(seen.values()) + 30)
                redis_server.start()
            wait_for(sum(seen.values()) + 30)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        print(f"\ntraffic through 3 Redis restarts: {dict(seen)}")
        assert seen[("revoked", 200)] == 0
        assert {status for _, status in seen} <= {200, 401, 503}
        assert seen[("live", 503)] > 0 and seen[("live", 200)] > 0
        _assert_revoked_and_live(base, revoked, live)
