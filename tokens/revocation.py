"""The revocation store: revoked session ids and refresh ``jti``s in Redis.

The database is the source of truth; Redis is the fast path every server
consults. This module owns every revocation key name and TTL rule.

Completeness: a Redis that lost data (flush, restart without persistence,
restart from an old snapshot, failover to a lagging replica) must not be
trusted. The marker key holds the ``run_id`` of the Redis server that the
cache was last rebuilt on. Each new connection reads the server's current
``run_id`` (a restarted or different server always means new connections),
and the one MGET per request reads the marker beside the revocation keys:
a missing marker, or one written by another server run, means "incomplete",
and the cache is rebuilt from the database before any token is trusted.

Sibling services (``ROLE = "verifier"``) read the same keys but own no
database: to them an incomplete cache is simply unavailable (503) until
FlowAuth, which checks completeness on every request and in its health
check, has rebuilt it.
"""

import logging
import math
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import redis
from django.utils import timezone

from flowauth import metrics
from tokens.exceptions import RevocationStoreUnavailable
from tokens.settings import token_settings

logger = logging.getLogger("flowauth.revocation")

PREFIX = "flowauth:rv:"
MARKER_KEY = PREFIX + "complete"
REBUILD_LOCK_KEY = PREFIX + "rebuild-lock"
REBUILD_LOCK_SECONDS = 60


def session_key(session_id: str) -> str:
    return f"{PREFIX}s:{session_id}"


def refresh_key(jti: str) -> str:
    return f"{PREFIX}j:{jti}"


# --- connections that know which server run they talk to -----------------

# run_id of each Redis server this process is connected to, by address.
_run_ids: dict[tuple, str] = {}


def _address(path, host, port) -> tuple:
    return ("unix", path) if path else ("tcp", host, int(port or 0))


class _RunIdMixin:
    def on_connect_check_health(self, check_health: bool = True):
        super().on_connect_check_health(check_health=check_health)
        self.send_command("INFO", "server")
        info = self.read_response()
        if isinstance(info, bytes):
            info = info.decode()
        for line in str(info).splitlines():
            if line.startswith("run_id:"):
                address = _address(getattr(self, "path", None), getattr(self, "host", None), getattr(self, "port", None))
                _run_ids[address] = line.split(":", 1)[1].strip()


class _TrackedConnection(_RunIdMixin, redis.Connection):
    pass


class _TrackedUnixConnection(_RunIdMixin, redis.UnixDomainSocketConnection):
    pass


class _TrackedSSLConnection(_RunIdMixin, redis.SSLConnection):
    pass


_TRACKED = {
    redis.Connection: _TrackedConnection,
    redis.UnixDomainSocketConnection: _TrackedUnixConnection,
    redis.SSLConnection: _TrackedSSLConnection,
}

_clients: dict[tuple, redis.Redis] = {}
_clients_lock = threading.Lock()


def get_redis() -> redis.Redis:
    """A raw client (errors are raised, never swallowed), one pool per process."""
    url, timeout = token_settings.REDIS_URL, token_settings.REDIS_SOCKET_TIMEOUT
    key = (url, timeout)
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                pool = redis.ConnectionPool.from_url(
                    url, socket_timeout=timeout, socket_connect_timeout=timeout,
                    retry_on_timeout=False, health_check_interval=30, decode_responses=True,
                )
                pool.connection_class = _TRACKED.get(pool.connection_class, pool.connection_class)
                client = _clients[key] = redis.Redis(connection_pool=pool)
    return client


def server_run_id(client: redis.Redis | None = None) -> str | None:
    """The run_id of the server behind ``client``, as read when its connection was made."""
    client = client or get_redis()
    params = client.connection_pool.connection_kwargs
    return _run_ids.get(_address(params.get("path"), params.get("host"), params.get("port")))


# --- TTL rules ------------------------------------------------------------


@dataclass(frozen=True)
class Revocation:
    """One revoked session, with the jti of its refresh token that was live."""

    session_id: str
    revoked_at: datetime
    session_expires_at: datetime
    live_refresh_jti: str | None = None

    def guard_until(self) -> datetime:
        """When the last access token this revocation must refuse expires.

        No access token of the session was issued after ``revoked_at`` and
        none outlives the session's absolute end.
        """
        return min(self.revoked_at + token_settings.ACCESS_TOKEN_LIFETIME, self.session_expires_at)

    def ttl_seconds(self, now: datetime) -> int:
        """Remaining guard time plus leeway and margin, rounded up; 0 = nothing left to guard.

        A token is accepted up to ``LEEWAY`` seconds past its ``exp``, so the
        guard lasts that much longer too.
        """
        remaining = (self.guard_until() - now).total_seconds() + token_settings.LEEWAY
        if remaining <= 0:
            return 0
        return max(1, math.ceil(remaining + token_settings.REVOCATION_TTL_MARGIN))


def guard_horizon(now: datetime) -> datetime:
    """Sessions revoked after this moment may still have an access token that would be accepted."""
    return now - token_settings.ACCESS_TOKEN_LIFETIME - timedelta(seconds=token_settings.LEEWAY)


# --- the store ------------------------------------------------------------


def _unavailable(exc: Exception) -> RevocationStoreUnavailable:
    logger.warning("revocation store unavailable: %s", type(exc).__name__)
    metrics.REDIS_FAILURES.labels(component="revocation").inc()
    return RevocationStoreUnavailable(type(exc).__name__)


def is_revoked(*, session_id: str, refresh_jti: str) -> bool:
    """One round trip: the marker and both keys that could refuse the token.

    Raises RevocationStoreUnavailable when Redis cannot answer, or when the
    cache is incomplete and could not be rebuilt right now.
    """
    client = get_redis()
    try:
        values = client.mget(MARKER_KEY, session_key(session_id), refresh_key(refresh_jti))
    except redis.RedisError as exc:
        raise _unavailable(exc) from exc
    if not isinstance(values, list) or len(values) != 3:
        raise RevocationStoreUnavailable("malformed MGET reply")
    marker, by_session, by_refresh = values
    if marker is None or marker != server_run_id(client):
        if token_settings.ROLE == "verifier":
            # A sibling service has no database to rebuild from: FlowAuth will.
            raise RevocationStoreUnavailable("revocation cache incomplete; waiting for the issuer's rebuild")
        rebuild()
        return is_revoked_after_rebuild(session_id=session_id, refresh_jti=refresh_jti)
    return by_session is not None or by_refresh is not None


def is_revoked_after_rebuild(*, session_id: str, refresh_jti: str) -> bool:
    try:
        found = get_redis().exists(session_key(session_id), refresh_key(refresh_jti))
    except redis.RedisError as exc:
        raise _unavailable(exc) from exc
    return found > 0


def write(revocations: Iterable[Revocation], *, now: datetime | None = None) -> int:
    """Write revocation keys with their TTLs in one pipelined round trip.

    Returns how many keys were written. Revocations with nothing left to
    guard write nothing.
    """
    now = now or timezone.now()
    pipe = get_redis().pipeline(transaction=False)
    written = 0
    for revocation in revocations:
        ttl = revocation.ttl_seconds(now)
        if not ttl:
            continue
        pipe.set(session_key(revocation.session_id), "1", ex=ttl)
        written += 1
        if revocation.live_refresh_jti:
            pipe.set(refresh_key(revocation.live_refresh_jti), "1", ex=ttl)
            written += 1
    if not written:
        return 0
    try:
        pipe.execute()
    except redis.RedisError as exc:
        raise _unavailable(exc) from exc
    return written


# Sets the marker only if this rebuild still holds its lock: a flush during
# the rebuild removes the lock too, and the cache is then not called complete.
_FINISH_REBUILD = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[1])
return 1
"""


def rebuild() -> int:
    """Restore every live revocation from the database, then mark the cache complete.

    Only one process rebuilds at a time (SET NX lock); others get
    RevocationStoreUnavailable until it is done, never a partial answer.
    """
    from tokens import selectors

    client = get_redis()
    lock_token = secrets.token_hex(8)
    try:
        client.ping()  # the run id we stamp must be the current server's
        run_id = server_run_id(client)
        if run_id is None:
            raise RevocationStoreUnavailable("the Redis server's run_id is unknown")
        if not client.set(REBUILD_LOCK_KEY, lock_token, nx=True, ex=REBUILD_LOCK_SECONDS):
            raise RevocationStoreUnavailable("rebuild in progress")
        written = write(selectors.revocations_to_guard())
        finished = client.eval(_FINISH_REBUILD, 2, REBUILD_LOCK_KEY, MARKER_KEY, lock_token, run_id)
    except redis.RedisError as exc:
        raise _unavailable(exc) from exc
    if not finished:
        raise RevocationStoreUnavailable("the cache changed during the rebuild")
    logger.info("revocation cache rebuilt: %d keys", written)
    return written


def ensure_complete() -> None:
    """Rebuild now if the marker is missing or belongs to another server run."""
    client = get_redis()
    try:
        marker = client.get(MARKER_KEY)
    except redis.RedisError as exc:
        raise _unavailable(exc) from exc
    if marker is None or marker != server_run_id(client):
        rebuild()


def ping() -> bool:
    try:
        return bool(get_redis().ping())
    except redis.RedisError:
        return False


def eviction_policy() -> str | None:
    try:
        return get_redis().config_get("maxmemory-policy").get("maxmemory-policy")
    except redis.RedisError:
        return None


def evicted_keys() -> int | None:
    """Keys Redis has evicted since it started: any of them may have been a revocation."""
    try:
        return int(get_redis().info("stats").get("evicted_keys", 0))
    except (redis.RedisError, ValueError):
        return None
