"""A per-process map of revocation verdicts, kept true by Redis invalidation pushes.

See docs/revocation-fast-path.md for the protocol and its guarantee. In short:

- one tracking connection per process (tokens.tracking), opened after fork;
- before every use of the map, a non-blocking drain of that connection: a
  push for a key drops the verdicts that read it; a push for the marker, a
  null push (flush), end of file, an error, a partial frame or a large drain
  clears the whole map;
- a PING every ``REVOCATION_HEARTBEAT`` seconds, never waited for; the map
  is used only while the last PONG answers a PING sent less than
  ``REVOCATION_LEASE`` seconds ago. TCP delivers every invalidation Redis
  sent before that PONG ahead of it, so a write finished before the PING
  was sent has been drained already;
- a verdict read by MGET is stored only if no invalidation was drained (and
  the connection was not replaced) since before that MGET was sent;
- writers call ``published()`` after their writes: one more round trip, so
  Redis has pushed the invalidations before the writer answers;
- strict mode (``REVOCATION_STRICT``): the heartbeat is a script that also
  records, per reader, the Redis time up to which this reader has drained
  its invalidations; writers wait (at most a lease) until every live reader
  has caught up to their write.

``time.monotonic`` is read through ``_monotonic``: tests move it.
"""

import logging
import os
import secrets
import select
import socket
import threading
import time

import redis

from flowauth import metrics
from tokens import tracking
from tokens.settings import token_settings

logger = logging.getLogger("flowauth.revocation")

_monotonic = time.monotonic

# A drain bigger than this clears the map instead of dropping entries one by one.
LARGE_DRAIN_BYTES = 1 << 20
LARGE_DRAIN_MESSAGES = 2000
MAX_ENTRIES = 100_000
# After a failed connect, the next attempt waits this long (requests use MGET meanwhile).
RECONNECT_DELAY = 1.0
MAX_PINGS_IN_FLIGHT = 20
LOCAL_HITS = metrics.REVOCATION_VERDICTS.labels(source="local")

# Strict mode: live readers (a sorted set scored by when each one's lease ends, in Redis
# microseconds) and how far each has caught up (a hash). Not under the tracking prefix: a
# heartbeat must not invalidate anything. One hash tag: both keys sit in one cluster slot.
READERS_KEY = "flowauth:{ack}:readers"
CAUGHT_UP_KEY = "flowauth:{ack}:caught-up"
# A reader's entry outlives its lease by this much (seconds): clocks of two machines run at
# slightly different rates, and the entry must not vanish while the reader still trusts its map.
ACK_MARGIN = 0.05

# The strict heartbeat. Records ARGV[2], the time this reader has caught up to (the
# previous heartbeat's answer, every push before which it has drained), keeps the reader
# live for ARGV[3] microseconds, forgets the reader's previous identity ARGV[4] (its last
# connection: that map was cleared), and answers the Redis time now: once this answer is
# read, every invalidation Redis sent this connection before it has been drained too.
_HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
if ARGV[4] ~= '' then
  redis.call('ZREM', KEYS[1], ARGV[4])
  redis.call('HDEL', KEYS[2], ARGV[4])
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return now
"""

# The writer's wait: drops readers whose lease has ended, then counts live readers that
# have not caught up to ARGV[1] (0: the Redis time now, which the answer returns).
_BEHIND = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local target = tonumber(ARGV[1])
if target == 0 then target = now end
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #dead > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  redis.call('HDEL', KEYS[2], unpack(dead))
end
local behind = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local at = tonumber(redis.call('HGET', KEYS[2], id) or '0')
  if at < target then behind = behind + 1 end
end
return {behind, target}
"""


class LocalCache:
    def __init__(self, url: str):
        self.url = url
        self.lock = threading.Lock()
        self.conn: tracking.TrackingConnection | None = None
        self.next_connect = 0.0
        self.entries: dict[tuple, tuple[bool, float]] = {}
        self.index: dict[str, set] = {}
        self.generation = 0
        # Heartbeats not yet answered, oldest first: (send time, whether its answer must be recorded at once).
        self.pings: list[tuple[float, bool]] = []
        self.last_ping = float("-inf")
        self.lease_from = float("-inf")  # send time of the PING the last PONG answered
        self.hits = self.misses = 0
        # Hits reach the Prometheus counter in batches (the pump, every heartbeat; close): one
        # increment per hit was a quarter of the hit path's cost, a multiprocess counter's lock and write.
        self.hits_counted = 0
        self.closed = False
        self.pumping = False  # whether this process's pump thread runs (threads do not survive fork)
        # Strict mode: this connection's reader id, the one before it, the Redis time drained up
        # to, and whether a heartbeat must go out now (an invalidation was drained, or the
        # answer to that heartbeat arrived and must be recorded).
        self.strict = token_settings.REVOCATION_STRICT
        self.reader_id = ""
        self.previous_reader_id = ""
        self.caught_up = 0
        self.ack_wanted = False
        self.ack_due = False

    def close(self) -> None:
        with self.lock:
            self.count_hits()
            self.closed = True
            if self.conn is not None:
                self.conn.close()
                self.conn = None

    # --- the pump: drains and heartbeats while no request comes --------------

    def _ensure_pump(self) -> None:
        """A daemon thread per process that drains the socket as pushes arrive.

        Without it an idle process would leave its invalidations queued in
        Redis, and every writer would wait a lease for it (``published()``).
        """
        if self.pumping:
            return
        self.pumping = True
        threading.Thread(target=self._pump, name="flowauth-rv-tracking", daemon=True).start()

    def _pump(self) -> None:
        while not self.closed:
            conn = self.conn
            if conn is not None:
                try:
                    select.select([conn.sock], [], [], token_settings.REVOCATION_HEARTBEAT)
                except (OSError, ValueError):
                    pass  # closed under us: the poll below notices
            else:
                time.sleep(token_settings.REVOCATION_HEARTBEAT)
            with self.lock:
                if self.closed:
                    return
                self._poll(_monotonic())
                self.count_hits()

    # --- connection ------------------------------------------------------

    def _drop(self, reason: str) -> None:
        if self.conn is not None:
            logger.info("revocation tracking connection dropped: %s", reason)
            self.conn.close()
        self.conn = None
        self._no_lease()
        self.next_connect = _monotonic() + RECONNECT_DELAY
        self._forget_reader()
        self._clear()

    def _no_lease(self) -> None:
        self.pings, self.lease_from, self.last_ping = [], float("-inf"), float("-inf")

    def _clear(self) -> None:
        self.entries.clear()
        self.index.clear()
        self.generation += 1

    def _connect(self, now: float) -> None:
        if now < self.next_connect:
            return
        try:
            self.conn = tracking.TrackingConnection(self.url, token_settings.REDIS_SOCKET_TIMEOUT)
        except tracking.TrackingError as exc:
            logger.warning("revocation tracking connection failed: %s", exc)
            self.conn = None
            self.next_connect = now + RECONNECT_DELAY
            return
        if self.strict and self.conn.resp == 2:
            # A subscribed RESP2 connection runs no script: strict mode cannot acknowledge on it.
            logger.warning("revocation tracking: the server refused RESP3; strict mode keeps the round trip")
            self.conn.close()
            self.conn, self.next_connect = None, float("inf")
            return
        self._clear()  # nothing stored before this connection was tracking can be trusted
        self.reader_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.ack_wanted = self.strict  # record a real time at once: until then writers wait for this reader

    def _forget_reader(self) -> None:
        if self.reader_id:
            self.previous_reader_id = self.reader_id  # the next connection's first heartbeat removes it
        self.reader_id, self.caught_up, self.ack_wanted, self.ack_due = "", 0, False, False

    # --- poll and drain --------------------------------------------------

    def count_hits(self) -> None:
        """Add the hits since the last call to ``flowauth_revocation_verdicts_total{source="local"}``."""
        hits = self.hits
        if hits != self.hits_counted:
            LOCAL_HITS.inc(hits - self.hits_counted)
            self.hits_counted = hits

    def after_fork(self) -> None:
        """In a forked child: the socket, the lock's state and the pump thread are the parent's."""
        self.lock = threading.Lock()  # the parent's pump may have held it at the fork
        self.hits_counted = self.hits  # the parent's hits are the parent's to count
        self.pumping = False  # a child runs only the thread that forked
        if self.conn is not None:
            self.conn.close()  # this process's copy of the descriptor; the parent's stays open
            self.conn = None
        self._no_lease()
        self.next_connect = 0.0
        self._forget_reader()
        self.previous_reader_id = ""  # the parent's reader is the parent's to keep
        self._clear()

    def _poll(self, now: float) -> None:
        if self.conn is None:
            self._connect(now)
            if self.conn is None:
                return
        try:
            values, partial, read = self.conn.drain(LARGE_DRAIN_BYTES)
            large = read >= LARGE_DRAIN_BYTES or len(values) > LARGE_DRAIN_MESSAGES
            if large:
                self._clear()
            for value in values:
                self._handle(value, skip_keys=large)
            if partial:
                self._clear()  # an invalidation may be half-way here
            urgent = self.ack_wanted or self.ack_due
            if len(self.pings) < MAX_PINGS_IN_FLIGHT and (
                urgent or now - self.last_ping >= token_settings.REVOCATION_HEARTBEAT
            ):
                self._heartbeat(now)
        except tracking.TrackingError as exc:
            self._drop(str(exc))

    def _heartbeat(self, now: float) -> None:
        """A PING, or in strict mode the acknowledging script; never waited for."""
        if not self.strict:
            self.conn.send_ping()
            self.pings.append((now, False))
        else:
            # After an invalidation: this heartbeat's answer is a Redis time after the write,
            # and the next one (sent as soon as that answer is read) records it.
            follow_up = self.ack_wanted
            lifetime = int((token_settings.REVOCATION_LEASE + ACK_MARGIN) * 1_000_000)
            self.conn.send(
                tracking.encode(
                    "EVAL",
                    _HEARTBEAT,
                    "2",
                    READERS_KEY,
                    CAUGHT_UP_KEY,
                    self.reader_id,
                    str(self.caught_up),
                    str(lifetime),
                    self.previous_reader_id,
                )
            )
            self.previous_reader_id = ""
            self.pings.append((now, follow_up))
            self.ack_wanted = self.ack_due = False
        self.last_ping = now

    def _handle(self, value, *, skip_keys: bool) -> None:
        if (value == "PONG" and not self.strict) or (self.strict and type(value) is int):
            if not self.pings:
                raise tracking.TrackingError("heartbeat answer without a heartbeat")
            self.lease_from, follow_up = self.pings.pop(0)
            if self.strict:
                self.caught_up = value
                self.ack_due = self.ack_due or follow_up
            return
        if isinstance(value, tuple) and value[0] == "push":
            items = value[1]
            if not items or items[0] != "invalidate":
                return  # another kind of push: nothing of ours
            keys = items[1] if len(items) > 1 else None
            self.ack_wanted = self.strict
            if keys is None:  # FLUSHDB / FLUSHALL
                self._clear()
                return
            self.generation += 1
            if skip_keys:
                return
            from tokens.revocation import MARKER_KEY

            for key in keys:
                if key == MARKER_KEY:
                    self._clear()
                    return
                for entry in self.index.pop(key, ()):
                    self.entries.pop(entry, None)
            return
        raise tracking.TrackingError(f"unexpected reply on the tracking connection: {value!r}"[:120])

    # --- the map ---------------------------------------------------------

    def lookup(self, key: tuple, state=None, *, answer: bool = True) -> tuple[bool | None, int | None]:
        """(verdict or None, token to pass to ``store``; None = do not store).

        ``state`` is the request path's server (``tokens.redis_client.ServerState``):
        the map answers only while its tracking connection is on that same server.
        ``answer=False``: only the token (the caller reads from Redis whatever the map holds).
        """
        now = _monotonic()
        with self.lock:
            self._ensure_pump()
            self._poll(now)
            if self.conn is None:
                return None, None
            if now - self.lease_from > token_settings.REVOCATION_LEASE:
                self.misses += 1
                return None, None
            if state is not None and not self._on_server_of(state):
                self.misses += 1
                return None, None
            entry = self.entries.get(key) if answer else None
            if entry is not None:
                verdict, stored_at = entry
                if now - stored_at <= token_settings.REVOCATION_LOCAL_CACHE_MAX_AGE:
                    self.hits += 1
                    return verdict, self.generation
                self.entries.pop(key, None)
            self.misses += 1
            return None, self.generation

    def _on_server_of(self, state) -> bool:
        """Whether the tracking connection is on the server the request path reads from.

        They differ after a failover (or a restart) until both have reconnected. When the
        request path learned of its server after this connection was made, this
        connection is the stale one: it is dropped, and the next one asks again.
        """
        if self.conn.server == state.identity:
            return True
        if state.read_at > self.conn.connected_at:
            self._drop("on another server than the one requests read from")
        return False

    def tracks_another_server(self, state) -> bool:
        """Whether the tracking connection is on another server than ``state`` says (it is the newer knowledge then)."""
        conn = self.conn
        return conn is not None and conn.server != state.identity

    def store(self, key: tuple, revoked: bool, token: int | None, redis_keys: tuple[str, ...], state=None) -> None:
        """Keep a verdict read by MGET, if nothing changed since ``lookup`` and it was read where this map tracks."""
        if token is None:
            return
        with self.lock:
            if token != self.generation or self.conn is None:
                return  # something changed since the MGET was sent
            if state is not None and self.conn.server != state.identity:
                return  # read on another server than the one whose writes this map hears of
            if len(self.entries) >= MAX_ENTRIES:
                self._clear()
                return
            self.entries[key] = (revoked, _monotonic())
            for redis_key in redis_keys:
                self.index.setdefault(redis_key, set()).add(key)


_cache: LocalCache | None = None
_cache_lock = threading.Lock()


def enabled() -> bool:
    if not token_settings.REVOCATION_LOCAL_CACHE:
        return False
    # TLS and Cluster URLs keep the round trip: the fast path is proven over plain TCP, unix sockets and Sentinel.
    return token_settings.REDIS_URL.startswith(("redis://", "unix://", "redis+sentinel://"))


def get() -> LocalCache | None:
    """This process's cache, or None when it is off."""
    global _cache
    if not enabled():
        return None
    cache = _cache
    if cache is None or cache.url != token_settings.REDIS_URL or cache.strict != token_settings.REVOCATION_STRICT:
        with _cache_lock:
            cache = _cache
            if (
                cache is None
                or cache.url != token_settings.REDIS_URL
                or cache.strict != token_settings.REVOCATION_STRICT
            ):
                if cache is not None:
                    cache.close()
                cache = _cache = LocalCache(token_settings.REDIS_URL)
    return cache


def _after_fork_in_child() -> None:
    global _cache_lock
    _cache_lock = threading.Lock()
    cache = _cache
    if cache is not None:
        cache.after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def reset() -> None:
    """Forget this process's cache (tests; settings changes)."""
    global _cache
    with _cache_lock:
        if _cache is not None:
            _cache.close()
        _cache = None


def published(client: redis.Redis) -> bool:
    """After revocation writes, before answering: their invalidations have left Redis for every reader.

    Redis queues an invalidation for each tracking connection while it runs
    the write, and the write's reply has been read here, so one more round
    trip (``CLIENT LIST``) sees every queued push. A push still in a
    reader's output buffer (a burst bigger than Redis writes per event
    loop, or a slow reader) is waited for, at most one lease: a reader that
    has not read it by then also has no PONG sent after the write, and its
    lease has run out. Runs whether or not this process uses the cache:
    other processes may. Returns whether every push had left (False: waited a lease).

    In strict mode it waits instead until every live reader has acknowledged
    (``_BEHIND``) a Redis time after the write: drained, not only sent.
    """
    if not isinstance(client, redis.Redis):
        return True  # a cluster: no process keeps the local cache there (``enabled()``)
    if token_settings.REVOCATION_STRICT:
        return _caught_up(client)
    deadline = _monotonic() + token_settings.REVOCATION_LEASE
    while True:
        pending = [c for c in client.client_list() if c.get("name") == tracking.CLIENT_NAME and _has_output(c)]
        if not pending:
            return True
        if _monotonic() >= deadline:
            return False  # a reader that has not read them has no lease left either
        time.sleep(0.001)


def _caught_up(client: redis.Redis) -> bool:
    """Strict mode: wait until no live reader is behind the Redis time just after the write.

    A reader is live while its entry's score (the end of its lease, plus a
    margin) is ahead of the Redis time; a reader whose lease ran out no longer
    uses its map, so at most one lease (and the margin) is waited.
    """
    deadline = _monotonic() + token_settings.REVOCATION_LEASE + ACK_MARGIN
    target = 0
    while True:
        behind, target = client.eval(_BEHIND, 2, READERS_KEY, CAUGHT_UP_KEY, target)
        if not behind:
            return True
        if _monotonic() >= deadline:
            logger.warning("revocation write: %d reader(s) did not acknowledge within the lease", behind)
            return False
        time.sleep(0.0005)


def _has_output(client_info: dict) -> bool:
    return int(client_info.get("obl", 0)) > 0 or int(client_info.get("oll", 0)) > 0
