"""The local verdict cache on a real Redis: every write that ends access reaches it before the next request.

Time (the lease, the entries' age) moves through tokens.local_cache._monotonic.
"""

import dataclasses
import os
import select
import signal
import socket
import subprocess
import time
from datetime import timedelta

import pytest
import redis as redis_lib
from django.utils import timezone

from flowauth.errors import RevocationStoreUnavailable
from tests.helpers import PASSWORD, bearer, claims, login, make_user, session_key_of
from tests.servers import free_port
from tokens import jwt, lifetimes, local_cache, revocation, services, tracking
from tokens.models import RevokeReason, Session

WHOAMI = "/api/auth/whoami"


@pytest.fixture(autouse=True)
def fresh_cache():
    local_cache.reset()
    yield
    local_cache.reset()


class Clock:
    def __init__(self):
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


@pytest.fixture
def clock(monkeypatch):
    moved = Clock()
    monkeypatch.setattr(local_cache, "_monotonic", moved)
    return moved


@pytest.fixture(params=["default", "strict"])
def mode(request, token_settings):
    """Both ways of keeping readers true: writers wait until pushes left Redis, or until readers acknowledged."""
    token_settings(REVOCATION_STRICT=request.param == "strict")
    local_cache.reset()
    return request.param


def wait_for_lease(cache: local_cache.LocalCache, attempts: int = 200) -> None:
    """Poll until a PONG has arrived (bounded by select, not by sleeping)."""
    for _ in range(attempts):
        cache.lookup(("warm", "", "", 0))
        if cache.conn is not None and cache.lease_from > float("-inf"):
            return
        if cache.conn is not None:
            select.select([cache.conn.sock], [], [], 0.05)
    raise AssertionError("no PONG on the tracking connection")


def kill_tracking_and_reconnect(cache: local_cache.LocalCache, client, clock) -> None:
    """``CLIENT KILL`` the tracking connection: the map is cleared; after the reconnect delay it is back."""
    for entry in client.client_list():
        if entry.get("name") == tracking.CLIENT_NAME:
            client.execute_command("CLIENT", "KILL", "ID", entry["id"])
    select.select([cache.conn.sock], [], [], 1.0)  # the end of file arrives
    cache.lookup(("poll", "", "", 0))
    assert cache.conn is None and cache.entries == {}
    clock.offset += local_cache.RECONNECT_DELAY + 0.01
    wait_for_lease(cache)


def cache_key(access: str) -> tuple:
    c = claims(access)
    return (c[jwt.SESSION_CLAIM], c[jwt.PARENT_CLAIM], c[jwt.USER_ID_CLAIM], c.get(jwt.SESSION_START_CLAIM, 0))


def sid(access: str) -> str:
    return claims(access)[jwt.SESSION_CLAIM]


def verdict(access: str) -> bool:
    session_id, refresh_jti, user_id, session_start = cache_key(access)
    return revocation.is_revoked(
        session_id=session_id, refresh_jti=refresh_jti, user_id=user_id, session_start=session_start
    )


def cached(cache, access: str):
    entry = cache.entries.get(cache_key(access))
    return None if entry is None else entry[0]


def warm(access: str) -> local_cache.LocalCache:
    cache = local_cache.get()
    wait_for_lease(cache)
    assert verdict(access) is False
    assert cached(cache, access) is False, "the verdict was not stored"
    hits = cache.hits
    assert verdict(access) is False
    assert cache.hits == hits + 1, "the second check did not come from the map"
    return cache


@pytest.fixture
def alice(db, api):
    user = make_user("alice@example.com")
    return user, login(api, user.email)


def test_logout_through_the_api_is_refused_next_request_from_the_map(mode, api, alice):
    _, tokens = alice
    warm(tokens["access"])
    assert api.get(WHOAMI, **bearer(tokens["access"])).status_code == 200
    assert api.post(
        "/api/auth/logout", {"refresh": tokens["refresh"]}, format="json", **bearer(tokens["access"])
    ).status_code in (200, 204)
    assert api.get(WHOAMI, **bearer(tokens["access"])).status_code == 401


@pytest.mark.parametrize("end", ["session", "all", "others", "password", "deactivate", "reuse"])
def test_every_way_of_ending_access_drops_cached_verdicts(mode, api, alice, end, token_settings):
    user, tokens = alice
    token_settings(REFRESH_GRACE_SECONDS=0)  # a replay is reuse at once
    second = login(api, user.email)
    cache = warm(tokens["access"])
    warm(second["access"])
    session = Session.objects.get(pk=sid(tokens["access"]))
    if end == "session":
        services.revoke_session(session, reason=RevokeReason.LOGOUT)
    elif end == "all":
        services.revoke_all_for_user(user, reason=RevokeReason.LOGOUT_ALL)
    elif end == "others":
        services.revoke_all_for_user(
            user, reason=RevokeReason.LOGOUT_OTHERS, keep=Session.objects.get(pk=sid(second["access"]))
        )
    elif end == "password":
        response = api.put(
            "/api/auth/profile/password",
            {"current_password": PASSWORD, "new_password": "an entirely new passphrase 42"},
            format="json",
            **bearer(second["access"]),
        )
        assert response.status_code == 200, response.content
    elif end == "deactivate":
        user.is_active = False
        user.save()
        services.end_access_of_inactive_users()
    elif end == "reuse":
        assert api.post("/api/auth/refresh", {"refresh": tokens["refresh"]}, format="json").status_code == 200
        assert api.post("/api/auth/refresh", {"refresh": tokens["refresh"]}, format="json").status_code == 401
    assert verdict(tokens["access"]) is True
    assert cache.hits >= 2
    if end in ("all", "password", "deactivate"):  # a password change starts a new session
        assert verdict(second["access"]) is True, "the user's cut-off must drop every session's verdict"
    if end == "others":
        assert verdict(second["access"]) is False


def test_a_key_written_by_another_client_drops_the_entry(mode, alice, redis_client):
    _, tokens = alice
    cache = warm(tokens["access"])
    redis_client.set(session_key_of(tokens["access"]), "1", ex=60)
    local_cache.published(redis_client)
    assert verdict(tokens["access"]) is True
    assert cached(cache, tokens["access"]) is True


def test_a_flush_clears_the_map_and_the_cache_is_rebuilt(mode, alice, redis_client):
    user, tokens = alice
    cache = warm(tokens["access"])
    services.revoke_all_for_user(user, reason=RevokeReason.LOGOUT_ALL)
    assert verdict(tokens["access"]) is True
    redis_client.flushdb()
    local_cache.published(redis_client)
    cache.lookup(("poll", "", "", 0))
    assert cache.entries == {}
    assert verdict(tokens["access"]) is True  # rebuilt from the database
    assert redis_client.get(revocation.MARKER_KEY)


def test_killed_tracking_connection_clears_the_map_and_reconnects(mode, alice, redis_client, clock):
    _, tokens = alice
    cache = warm(tokens["access"])
    killed = False
    for client in redis_client.client_list():
        if client.get("name") == tracking.CLIENT_NAME:
            redis_client.execute_command("CLIENT", "KILL", "ID", client["id"])
            killed = True
    assert killed
    # The revocation written while no tracking connection is there must not be missed.
    redis_client.set(session_key_of(tokens["access"]), "1", ex=60)
    conn = cache.conn
    if conn is not None:
        select.select([conn.sock], [], [], 1.0)  # the end of file arrives
    assert verdict(tokens["access"]) is True
    assert cache.conn is None and cache.entries == {}
    clock.offset += local_cache.RECONNECT_DELAY + 0.01
    wait_for_lease(cache)
    assert verdict(tokens["access"]) is True


def test_no_pong_within_the_lease_means_no_use_of_the_map(mode, alice, clock):
    _, tokens = alice
    cache = warm(tokens["access"])
    cache.conn.send_ping = cache.conn.send = lambda *frame: None  # heartbeats stop leaving: as if the link were cut
    clock.offset += 0.6
    hits = cache.hits
    assert verdict(tokens["access"]) is False
    assert cache.hits == hits, "the map was used after its lease ran out"


def test_entries_expire_after_their_max_age(alice, clock, token_settings):
    _, tokens = alice
    cache = warm(tokens["access"])
    hits = cache.hits
    # the lease is refreshed by a real PONG; only the entry is made old
    key = cache_key(tokens["access"])
    cache.entries[key] = (False, cache.entries[key][1] - 1.5)
    verdict(tokens["access"])
    assert cache.hits == hits


def test_a_burst_larger_than_a_socket_buffer_leaves_no_stale_entry(mode, alice, redis_client):
    _, tokens = alice
    warm(tokens["access"])
    pipe = redis_client.pipeline(transaction=False)
    for n in range(30_000):
        pipe.set(revocation.session_key(f"burst-{n:06d}-" + "x" * 40, "burst"), "1", ex=30)
    pipe.set(session_key_of(tokens["access"]), "1", ex=30)
    pipe.execute()
    local_cache.published(redis_client)
    for _ in range(50):  # the drain is bounded per request; each request still refuses
        assert verdict(tokens["access"]) is True


def test_an_idle_process_keeps_draining_so_writers_never_wait_for_it(mode, alice, redis_client):
    _, tokens = alice
    cache = warm(tokens["access"])  # then no request comes: only its pump thread reads
    for batch in range(20):
        pipe = redis_client.pipeline(transaction=False)
        for n in range(5_000):
            pipe.set(revocation.session_key(f"idle-{batch}-{n:05d}-" + "x" * 40, "idle"), "1", ex=30)
        pipe.execute()
        assert local_cache.published(redis_client), f"batch {batch}: the idle reader's pushes stayed in Redis"
    assert cache.conn is not None


def test_a_partial_frame_clears_the_map(alice):
    _, tokens = alice
    cache = warm(tokens["access"])
    mine, theirs = socket.socketpair()
    cache.conn.close()
    cache.conn.sock = mine
    mine.setblocking(False)
    theirs.sendall(b">2\r\n$10\r\ninvalidate\r\n*1\r\n$20\r\nflowauth:rv:s:ab")
    cache.lookup(("poll", "", "", 0))
    assert cache.entries == {}
    theirs.close()
    cache.lookup(("poll", "", "", 0))
    assert cache.conn is None  # end of file


@pytest.mark.parametrize("frame", [b"-ERR boom\r\n", b":1\r\n", b"?junk\r\n", b"+PONG\r\n"])
def test_anything_unexpected_drops_the_connection(alice, frame):
    _, tokens = alice
    cache = warm(tokens["access"])
    mine, theirs = socket.socketpair()
    cache.conn.close()
    cache.conn.sock, cache.pings = mine, []
    mine.setblocking(False)
    theirs.sendall(frame)
    cache.lookup(("poll", "", "", 0))
    assert cache.conn is None and cache.entries == {}
    theirs.close()


@pytest.mark.parametrize(
    "setting",
    [{"REVOCATION_LOCAL_CACHE": False}, {"REDIS_URL": "rediss://127.0.0.1:6380/0"}],
)
def test_settings_turn_the_cache_off(token_settings, setting):
    token_settings(**setting)
    assert local_cache.get() is None


def test_verifier_role_uses_the_same_cache(alice, token_settings):
    _, tokens = alice
    token_settings(ROLE="verifier")
    cache = warm(tokens["access"])
    now = timezone.now()
    revocation.write(
        [
            lifetimes.Revocation(
                sid(tokens["access"]), claims(tokens["access"])["user_id"], now, now + timedelta(hours=1)
            )
        ]
    )
    assert verdict(tokens["access"]) is True
    assert cache.hits >= 1


def test_parser_reads_every_resp3_type():
    frames = [
        (b"+OK\r\n", "OK"),
        (b":-3\r\n", -3),
        (b"_\r\n", None),
        (b"#t\r\n", True),
        (b"$-1\r\n", None),
        (b"$3\r\nabc\r\n", "abc"),
        (b"*2\r\n:1\r\n$1\r\nx\r\n", [1, "x"]),
        (b"%1\r\n+a\r\n:2\r\n", ["a", 2]),
        (b">2\r\n$10\r\ninvalidate\r\n_\r\n", ("push", ["invalidate", None])),
        (b"|1\r\n+k\r\n+v\r\n+real\r\n", "real"),
        (b"-ERR x\r\n", ("error", "ERR x")),
    ]
    for raw, value in frames:
        assert tracking.parse(raw) == (value, len(raw))
        for cut in range(1, len(raw)):
            with pytest.raises(tracking.Incomplete):
                tracking.parse(raw[:cut])


# --- a Redis server of this test's own: hung (SIGSTOP) and restarted -------------------


@pytest.fixture
def own_redis(tmp_path, token_settings):
    yield from _own_redis(tmp_path, token_settings)


@pytest.fixture
def resp2_redis(tmp_path, token_settings):
    """A real Redis that refuses ``HELLO`` (as some proxies do), with ``?protocol=2`` in ``REDIS_URL``
    (redis-py speaks RESP3 unless told): the tracking connection must speak RESP2 too."""
    yield from _own_redis(tmp_path, token_settings, "--rename-command", "HELLO", "", protocol=2)


def _own_redis(tmp_path, token_settings, *extra: str, protocol: int = 3):
    port = free_port()

    def start():
        proc = subprocess.Popen(
            [
                "redis-server",
                *extra,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis_lib.Redis(port=port, decode_responses=True, protocol=protocol)
        for _ in range(500):
            try:
                client.ping()
                break
            except redis_lib.ConnectionError:
                select.select([], [], [], 0.01)
        return proc

    procs = [start()]
    query = "" if protocol == 3 else f"?protocol={protocol}"
    token_settings(REDIS_URL=f"redis://127.0.0.1:{port}/0{query}", REDIS_SOCKET_TIMEOUT=0.3)

    def restart():
        procs[0].kill()
        procs[0].wait()
        procs[0] = start()

    yield restart, procs
    for proc in procs:
        try:
            os.kill(proc.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        proc.kill()
        proc.wait()


def test_hung_redis_fails_closed_within_the_lease(mode, alice, own_redis, clock):
    _, tokens = alice
    revocation.rebuild()
    cache = warm(tokens["access"])
    _, procs = own_redis
    os.kill(procs[0].pid, signal.SIGSTOP)
    clock.offset += 0.6
    with pytest.raises(RevocationStoreUnavailable):
        verdict(tokens["access"])
    os.kill(procs[0].pid, signal.SIGCONT)
    assert cache is local_cache.get()


def test_restarted_redis_clears_the_map_and_refuses_from_the_database(mode, alice, own_redis, clock):
    user, tokens = alice
    revocation.rebuild()
    cache = warm(tokens["access"])
    restart, _ = own_redis
    restart()  # an empty server: the revocation below lives only in the database now
    Session.objects.filter(pk=sid(tokens["access"])).update(revoked_at=timezone.now())
    try:
        verdict(tokens["access"])  # the old pool connection may fail once
    except RevocationStoreUnavailable:
        pass
    assert cache.entries == {}
    assert verdict(tokens["access"]) is True  # the marker was missing: rebuilt from the database


def test_a_warm_request_sends_no_command_to_redis_but_heartbeats(api, alice, redis_client, django_assert_num_queries):
    _, tokens = alice
    warm(tokens["access"])
    assert api.get(WHOAMI, **bearer(tokens["access"])).status_code == 200

    def calls():
        return {name: value["calls"] for name, value in redis_client.info("commandstats").items()}

    before = calls()
    with django_assert_num_queries(0):
        assert api.get(WHOAMI, **bearer(tokens["access"])).status_code == 200
    after = calls()
    delta = {name for name in after if after[name] != before.get(name, 0)}
    assert delta <= {"cmdstat_info", "cmdstat_ping"}, delta  # the measurement itself, the heartbeat


# --- strict mode: readers acknowledge, writers wait for every live reader ----------------


def redis_time_us(client) -> int:
    seconds, micros = client.time()
    return seconds * 1_000_000 + micros


def test_strict_writer_answers_after_every_live_reader_acknowledged_its_write(alice, redis_client, token_settings):
    token_settings(REVOCATION_STRICT=True)
    _, tokens = alice
    cache = warm(tokens["access"])
    before = redis_time_us(redis_client)
    session = Session.objects.get(pk=sid(tokens["access"]))
    services.revoke_session(session, reason=RevokeReason.LOGOUT)
    # Recorded in Redis before the writer returned: this reader drained past the write.
    assert int(redis_client.hget(local_cache.CAUGHT_UP_KEY, cache.reader_id)) >= before
    assert cached(cache, tokens["access"]) is None, "the acknowledged invalidation did not drop the verdict"
    assert verdict(tokens["access"]) is True


def test_strict_writer_waits_at_most_a_lease_for_a_reader_that_stopped(alice, redis_client, token_settings):
    token_settings(REVOCATION_STRICT=True, REVOCATION_LEASE=0.2)
    _, tokens = alice
    warm(tokens["access"])
    # A reader whose last heartbeat said "live for one more lease", then nothing (a stopped process).
    lease_end = redis_time_us(redis_client) + int((0.2 + local_cache.ACK_MARGIN) * 1_000_000)
    redis_client.zadd(local_cache.READERS_KEY, {"ghost": lease_end})
    redis_client.hset(local_cache.CAUGHT_UP_KEY, "ghost", 0)
    redis_client.set(revocation.session_key("written-while-ghost-lives", "ghost"), "1", ex=30)
    local_cache.published(redis_client)
    assert redis_time_us(redis_client) >= lease_end, "the writer answered while a reader behind it still had a lease"
    assert redis_client.zscore(local_cache.READERS_KEY, "ghost") is None, "a dead reader was kept"
    assert redis_client.hget(local_cache.CAUGHT_UP_KEY, "ghost") is None
    redis_client.set(revocation.session_key("written-after", "ghost"), "1", ex=30)
    assert local_cache.published(redis_client) is True  # the live reader (this process) caught up


def test_strict_reader_that_caught_up_is_not_waited_for(alice, redis_client, token_settings):
    token_settings(REVOCATION_STRICT=True)
    _, tokens = alice
    warm(tokens["access"])
    far = redis_time_us(redis_client) + 60_000_000
    redis_client.zadd(local_cache.READERS_KEY, {"ahead": far})
    redis_client.hset(local_cache.CAUGHT_UP_KEY, "ahead", far)
    redis_client.set(revocation.session_key("x", "x"), "1", ex=30)
    assert local_cache.published(redis_client) is True


def test_strict_reconnected_reader_forgets_its_previous_identity(alice, redis_client, token_settings, clock):
    token_settings(REVOCATION_STRICT=True)
    _, tokens = alice
    cache = warm(tokens["access"])
    old = cache.reader_id
    assert redis_client.zscore(local_cache.READERS_KEY, old) is not None
    kill_tracking_and_reconnect(cache, redis_client, clock)
    assert cache.reader_id != old
    assert redis_client.zscore(local_cache.READERS_KEY, old) is None, "writers would wait a lease for a gone reader"


def _in_database(url: str, number: int) -> str:
    if url.startswith("unix://"):
        return f"{url.split('?', 1)[0]}?db={number}"
    return f"{url.rsplit('/', 1)[0]}/{number}"


@pytest.mark.parametrize("number", [0, 3])
def test_strict_reader_acknowledges_in_the_database_its_url_names(alice, token_settings, number):
    from django.conf import settings

    url = _in_database(settings.FLOWAUTH_TOKENS["REDIS_URL"], number)
    token_settings(REVOCATION_STRICT=True, REDIS_URL=url)
    writer = redis_lib.Redis.from_url(url, decode_responses=True)
    revocation.ensure_complete()  # that database's marker, before the reader connects
    _, tokens = alice
    cache = warm(tokens["access"])  # answered from the map, against that database
    assert writer.zscore(local_cache.READERS_KEY, cache.reader_id) is not None
    assert local_cache.published(writer) is True, "the writer saw its reader caught up, not a lease run out"
    writer.zrem(local_cache.READERS_KEY, cache.reader_id)


def test_strict_heartbeat_answer_without_a_heartbeat_drops_the_connection(alice, token_settings):
    token_settings(REVOCATION_STRICT=True)
    _, tokens = alice
    cache = warm(tokens["access"])
    cache.pings.clear()
    mine, theirs = socket.socketpair()
    cache.conn.close()
    cache.conn.sock = mine
    mine.setblocking(False)
    theirs.sendall(b":1700000000000000\r\n")
    cache.lookup(("poll", "", "", 0))
    assert cache.conn is None and cache.entries == {}
    theirs.close()


@pytest.mark.parametrize("lock_held", [False, True], ids=["idle", "lock-held-at-fork"])
def test_a_forked_child_starts_its_own_connection_and_map_and_the_parent_keeps_its_own(alice, lock_held):
    """gunicorn forks workers: a child must not read from, write to or wait on what it inherited."""
    _, tokens = alice
    cache = warm(tokens["access"])
    parent_conn, parent_fd = cache.conn, cache.conn.sock.fileno()
    read_end, write_end = os.pipe()
    if lock_held:
        cache.lock.acquire()  # as if the pump thread were mid-poll when the worker forked
    pid = os.fork()
    if pid == 0:  # the child: report, never return into pytest
        code = 1
        try:
            os.close(read_end)
            inherited = cache.conn is None and cache.entries == {} and not cache.pumping
            cache.lookup(("after-fork", "", "", 0))  # would block forever on an inherited held lock
            fresh = cache.conn is not None and cache.conn is not parent_conn
            # its own socket: the inherited descriptor was closed in the child (and reused, or not)
            fresh_fd = fresh and cache.conn.sock.fileno() >= 0 and parent_conn.sock.fileno() == -1
            os.write(write_end, repr((inherited, fresh, fresh_fd, cache.pumping)).encode())
            code = 0
        finally:
            os._exit(code)
    if lock_held:
        cache.lock.release()
    os.close(write_end)
    ready, _, _ = select.select([read_end], [], [], 20)
    report = os.read(read_end, 200).decode() if ready else ""
    os.close(read_end)
    if not ready:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert ready, "the child hung after the fork"
    assert os.waitstatus_to_exitcode(status) == 0
    assert report == repr((True, True, True, True)), report
    # The parent's connection, map and lease are untouched by the child's exit.
    assert cache.conn is parent_conn and cache.conn.sock.fileno() == parent_fd
    wait_for_lease(cache)  # its heartbeats still get their answers
    hits = cache.hits
    assert verdict(tokens["access"]) is False
    assert cache.hits == hits + 1


def test_the_map_answers_only_while_its_connection_is_on_the_server_requests_read_from(alice):
    """After a failover or restart the two may differ for a moment: the map then stays unused."""
    _, tokens = alice
    cache = warm(tokens["access"])
    key, state = cache_key(tokens["access"]), revocation.server_state()
    assert cache.conn.server == (state.run_id, state.replid)
    assert cache.lookup(key, state)[0] is False

    # The request path's state is older than the tracking connection: it is the one behind.
    behind = dataclasses.replace(state, run_id="another-server", read_at=cache.conn.connected_at - 1)
    assert cache.lookup(key, behind) == (None, None)
    assert cache.conn is not None
    # A verdict read on another server is not kept.
    _, token = cache.lookup(("other-key", "", "", 0), state)
    cache.store(("other-key", "", "", 0), False, token, ("k",), behind)
    assert ("other-key", "", "", 0) not in cache.entries

    # The request path learned of another server after this connection was made: it is dropped.
    moved = dataclasses.replace(state, replid="promoted", read_at=time.monotonic() + 1)
    assert cache.lookup(key, moved) == (None, None)
    assert cache.conn is None and cache.entries == {}


# --- a server without RESP3: CLIENT TRACKING REDIRECT to the connection's own subscription ------


def test_resp2_server_gets_a_redirected_subscription_and_every_end_of_access_reaches_it(api, alice, resp2_redis):
    user, tokens = alice
    revocation.rebuild()
    cache = warm(tokens["access"])
    assert cache.conn.resp == 2
    # A key written by any client drops the entry through the subscription, before the next request.
    assert api.post("/api/auth/logout", **bearer(tokens["access"]), data={}, format="json").status_code == 204
    assert verdict(tokens["access"]) is True
    assert cached(cache, tokens["access"]) is True  # the push dropped False; the MGET stored True
    # A cut-off for the user (logout-all from another session) drops verdicts of every session of the user.
    other = login(api, user.email)
    warm(other["access"])
    services.revoke_all_for_user(user, reason=RevokeReason.LOGOUT_ALL)
    assert verdict(other["access"]) is True


def test_resp2_flush_and_killed_connection_clear_the_map(alice, resp2_redis, clock):
    _, tokens = alice
    revocation.rebuild()
    cache = warm(tokens["access"])
    client = revocation.get_redis()
    client.flushdb()  # a null invalidation on the channel
    local_cache.published(client)
    cache.lookup(("poll", "", "", 0))
    assert cache.entries == {}
    assert verdict(tokens["access"]) is False  # rebuilt, and stored again
    assert cached(cache, tokens["access"]) is False
    kill_tracking_and_reconnect(cache, client, clock)  # reconnected, and its PINGs are answered
    assert cache.conn.resp == 2  # in RESP2 again


def test_resp2_without_pong_within_the_lease_the_map_is_not_used(alice, resp2_redis, clock):
    _, tokens = alice
    revocation.rebuild()
    cache = warm(tokens["access"])
    cache.conn.send_ping = cache.conn.send = lambda *frame: None
    clock.offset += 0.6
    hits = cache.hits
    assert verdict(tokens["access"]) is False
    assert cache.hits == hits


def test_resp2_server_in_strict_mode_keeps_the_round_trip(alice, resp2_redis, token_settings, caplog):
    """Strict heartbeats are scripts, which a subscribed RESP2 connection cannot run."""
    _, tokens = alice
    token_settings(REVOCATION_STRICT=True)
    local_cache.reset()
    revocation.rebuild()
    cache = local_cache.get()
    for _ in range(3):
        assert verdict(tokens["access"]) is False
    assert cache.conn is None and cache.hits == 0 and cache.entries == {}
    assert "strict mode keeps the round trip" in caplog.text


def test_a_request_path_state_older_than_the_tracking_connection_is_re_read_at_once(alice):
    """After a failover the request path may hold what the replica said before its promotion."""
    _, tokens = alice
    cache = warm(tokens["access"])
    real = revocation.server_state()
    revocation.remember_server_state(
        revocation.get_redis(),
        dataclasses.replace(real, replid="before-promotion", read_at=cache.conn.connected_at - 1),
    )
    assert verdict(tokens["access"]) is False  # a miss: the map tracks another server than this state names
    assert revocation.server_state().identity == real.identity  # re-read by that MGET, not 5 s later
    hits = cache.hits
    assert verdict(tokens["access"]) is False
    assert cache.hits == hits + 1


def _local_hits_counted() -> float:
    return local_cache.LOCAL_HITS._value.get()


def test_hits_reach_the_metric_in_batches_once_each(alice):
    access = alice[1]["access"]
    local_cache.get().pumping = True  # no pump thread: only the calls below count
    cache = warm(access)  # one hit so far
    before = _local_hits_counted()
    pending = cache.hits - cache.hits_counted
    assert pending == 1
    for _ in range(5):
        assert verdict(access) is False
    with cache.lock:
        cache.count_hits()
        cache.count_hits()  # nothing new: nothing added
    assert _local_hits_counted() == before + pending + 5


def test_a_forked_child_does_not_count_its_parents_hits(alice):
    local_cache.get().pumping = True  # no pump thread: only the call below counts
    cache = warm(alice[1]["access"])
    assert cache.hits > cache.hits_counted
    cache.after_fork()
    before = _local_hits_counted()
    with cache.lock:
        cache.count_hits()
    assert _local_hits_counted() == before
