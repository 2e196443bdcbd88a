"""The revocation store: revoked session ids and refresh ``jti``s in Redis.

The database is the source of truth; Redis is the fast path every server
consults. This module owns every revocation key name and TTL rule.

Completeness: a Redis that lost data (flush, restart without persistence,
restart from an old snapshot, failover to a lagging replica, eviction) must
not be trusted. The marker key holds the epoch of the cache's last rebuild:
the server's ``run_id``, its replication id (``master_replid``: new on a
promotion) and its ``evicted_keys`` count. Each new connection
reads the server's current state (a restarted or different server always
means new connections), and the one MGET per request reads the marker
beside the revocation keys: a missing marker, or one of another epoch,
means "incomplete", and the cache is rebuilt from the database before any
token is trusted. A server that may evict (``maxmemory`` set with a policy
other than ``noeviction``) is not trusted at all: revocation keys carry
TTLs, which is exactly what ``volatile-*`` policies evict first.

Sibling services (``ROLE = "verifier"``) read the same keys but own no
database: to them an incomplete cache is simply unavailable (503) until
FlowAuth, which checks completeness on every request and in its health
check, has rebuilt it.
"""

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import redis
from django.utils import timezone

from flowauth import metrics
from flowauth.errors import RevocationStoreUnavailable
from tokens import local_cache, selectors
from tokens.lifetimes import Cutoff, Revocation, cutoff_refuses
from tokens.redis_client import (
    ServerState,
    get_redis,
    refresh_server_state,
    remember_server_state,
    server_state,
)
from tokens.settings import token_settings

logger = logging.getLogger("flowauth.revocation")

PREFIX = "flowauth:rv:"
MARKER_KEY = PREFIX + "complete"
REBUILD_LOCK_KEY = PREFIX + "rebuild-lock"
REBUILD_LOCK_SECONDS = 60
# When the cache was last rebuilt (epoch seconds), written with the marker: keys that are
# not rebuilt from the database (DPoP proofs' jtis) were lost before it.
SINCE_KEY = PREFIX + "since"


def session_key(session_id: str) -> str:
    return f"{PREFIX}s:{session_id}"


def refresh_key(jti: str) -> str:
    return f"{PREFIX}j:{jti}"


def cutoff_key(user_id) -> str:
    return f"{PREFIX}u:{user_id}"


# --- the store ------------------------------------------------------------


def _unavailable(exc: Exception) -> RevocationStoreUnavailable:
    logger.warning("revocation store unavailable: %s", type(exc).__name__)
    metrics.REDIS_FAILURES.labels(component="revocation").inc()
    return RevocationStoreUnavailable(type(exc).__name__)


@dataclass
class ExtraSet:
    """A ``SET key 1 NX EX ttl`` riding in the revocation check's round trip (a DPoP proof's jti).

    ``created`` holds the answer afterwards: True when the key was new.
    """

    key: str
    ttl: int
    created: bool | None = None
    # When the store was last rebuilt (SINCE_KEY): a key written before then may have been lost.
    since: int | None = None


def is_revoked(
    *, session_id: str, refresh_jti: str, user_id: str, session_start: int, extra: ExtraSet | None = None
) -> bool:
    """The verdict: from this process's local cache when it holds one, else one round trip.

    See tokens/local_cache.py; with the cache off (or distrusted) this is
    exactly ``_read_verdict``. A request with ``extra`` (a DPoP proof's jti to
    record on every server) always makes its one round trip.
    """
    cache = local_cache.get()
    if cache is None or extra is not None:
        return _read_verdict(
            session_id=session_id, refresh_jti=refresh_jti, user_id=user_id, session_start=session_start, extra=extra
        )
    state = server_state()
    key = (session_id, refresh_jti, user_id, session_start)
    verdict, token = cache.lookup(key)
    if verdict is not None and state is not None and state.age() <= token_settings.SERVER_STATE_MAX_AGE:
        _LOCAL_HITS.inc()
        return verdict
    _REDIS_READS.inc()
    revoked = _read_verdict(
        session_id=session_id, refresh_jti=refresh_jti, user_id=user_id, session_start=session_start
    )
    cache.store(key, revoked, token, (session_key(session_id), refresh_key(refresh_jti), cutoff_key(user_id)))
    return revoked


_LOCAL_HITS = metrics.REVOCATION_VERDICTS.labels(source="local")
_REDIS_READS = metrics.REVOCATION_VERDICTS.labels(source="redis")


def _read_verdict(
    *, session_id: str, refresh_jti: str, user_id: str, session_start: int, extra: ExtraSet | None = None
) -> bool:
    """One round trip: the marker and the three keys that could refuse the token.

    The session's key, its parent refresh token's key and the user's
    cut-off; with ``extra``, its SET NX in the same pipeline. Raises
    RevocationStoreUnavailable when Redis cannot answer, or when the cache
    is incomplete and could not be rebuilt right now.
    """
    client = get_redis()
    keys = (MARKER_KEY, session_key(session_id), refresh_key(refresh_jti), cutoff_key(user_id))
    known = server_state(client)
    try:
        if known is None or known.age() > token_settings.SERVER_STATE_MAX_AGE or extra is not None:
            # Now and then the same round trip re-reads the server's state: an eviction
            # policy set, or keys evicted, on a connection opened before, comes to light.
            read_state = known is None or known.age() > token_settings.SERVER_STATE_MAX_AGE
            pipe = client.pipeline(transaction=False)
            pipe.mget(*keys)
            if extra is not None:
                pipe.set(extra.key, "1", nx=True, ex=extra.ttl)
                pipe.get(SINCE_KEY)
            if read_state:
                pipe.info()
            replies = pipe.execute()
            values = replies[0]
            if extra is not None:
                extra.created, extra.since = bool(replies[1]), _since(replies[2])
            if read_state:
                state = remember_server_state(client, ServerState.from_info(replies[-1]))
            else:
                state = server_state(client)
        else:
            values = client.mget(*keys)
            state = server_state(client)  # after the call: a reconnect (restart, failover) has just read it
    except redis.RedisError as exc:
        raise _unavailable(exc) from exc
    if not isinstance(values, list) or len(values) != len(keys):
        raise RevocationStoreUnavailable("malformed MGET reply")
    marker, by_session, by_refresh, cutoff = values
    if state.may_evict:
        raise _evicting(state)
    if marker is None or marker != state.epoch:
        if token_settings.ROLE == "verifier":
            # A sibling service has no database to rebuild from: FlowAuth will.
            raise RevocationStoreUnavailable("revocation cache incomplete; waiting for the issuer's rebuild")
        rebuild()
        by_session, by_refresh, cutoff = _read_after_rebuild(keys[1:])
        if extra is not None:
            extra.since = int(timezone.now().timestamp())  # at least as late as the rebuild just done
    return (
        by_session is not None
        or by_refresh is not None
        or cutoff_refuses(cutoff, session_id=session_id, session_start=session_start)
    )


# Servers already reported as evicting: one log line per server and policy, not one per request.
_reported_evicting: set[tuple[str, str]] = set()


def _evicting(state: ServerState) -> RevocationStoreUnavailable:
    if (state.run_id, state.policy) not in _reported_evicting:
        _reported_evicting.add((state.run_id, state.policy))
        logger.error("revocation store refused: maxmemory-policy %s may evict revocation keys", state.policy)
    metrics.REDIS_FAILURES.labels(component="revocation").inc()
    return RevocationStoreUnavailable(f"Redis may evict revocation keys (maxmemory-policy {state.policy})")


def _since(value) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _read_after_rebuild(keys) -> list:
    try:
        values = get_redis().mget(*keys)
    except redis.RedisError as exc:
        raise _unavailable(exc) from exc
    if not isinstance(values, list) or len(values) != len(keys):
        raise RevocationStoreUnavailable("malformed MGET reply")
    return values


def write(revocations: Iterable[Revocation], *, cutoffs: Iterable[Cutoff] = (), now: datetime | None = None) -> int:
    """Write revocation keys and user cut-offs with their TTLs in one pipelined round trip.

    Returns how many keys were written. Entries with nothing left to guard
    write nothing. A cut-off replaces the user's previous one: it is later.
    """
    now = now or timezone.now()
    pipe = get_redis().pipeline(transaction=False)
    written = 0
    for cutoff in cutoffs:
        ttl = cutoff.ttl_seconds(now)
        if ttl:
            pipe.set(cutoff_key(cutoff.user_id), cutoff.cache_value(), ex=ttl)
            written += 1
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
        local_cache.published(get_redis())
    except redis.RedisError as exc:
        raise _unavailable(exc) from exc
    return written


# Sets the marker only if this rebuild still holds its lock: a flush during
# the rebuild removes the lock too, and the cache is then not called complete.
_FINISH_REBUILD = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[3])
redis.call('DEL', KEYS[1])
return 1
"""

# Deletes the lock only if it is still this rebuild's (it may have expired and been taken).
_RELEASE_LOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _release_lock(client, lock_token: str) -> None:
    try:
        client.eval(_RELEASE_LOCK, 1, REBUILD_LOCK_KEY, lock_token)
    except redis.RedisError:
        pass  # it expires by itself; the original failure is what the caller must see


def rebuild() -> int:
    """Restore every live revocation from the database, then mark the cache complete.

    Only one process rebuilds at a time (SET NX lock); others get
    RevocationStoreUnavailable until it is done, never a partial answer.
    """

    client = get_redis()
    lock_token = secrets.token_hex(8)
    try:
        state = refresh_server_state(client)  # the epoch we stamp must be the server's current one
        if state.may_evict:
            raise _evicting(state)
        if not client.set(REBUILD_LOCK_KEY, lock_token, nx=True, ex=REBUILD_LOCK_SECONDS):
            raise RevocationStoreUnavailable("rebuild in progress")
        try:
            written = write(selectors.revocations_to_guard(), cutoffs=selectors.cutoffs_to_guard())
        except BaseException:
            # A failed rebuild must not make every process wait out the lock.
            _release_lock(client, lock_token)
            raise
        # Evictions during the rebuild change the epoch: the next check rebuilds again.
        finished = client.eval(
            _FINISH_REBUILD,
            3,
            REBUILD_LOCK_KEY,
            MARKER_KEY,
            SINCE_KEY,
            lock_token,
            state.epoch,
            int(timezone.now().timestamp()),
        )
        local_cache.published(client)
    except redis.RedisError as exc:
        raise _unavailable(exc) from exc
    if not finished:
        raise RevocationStoreUnavailable("the cache changed during the rebuild")
    logger.info("revocation cache rebuilt: %d keys", written)
    return written


def ensure_complete(state: ServerState | None = None) -> None:
    """Rebuild now if the marker is missing or from another epoch.

    ``state`` is the server's state just read (by default it is read now).
    The health check calls this: it notices evictions, a policy changed to an
    evicting one, or a restart, on connections opened before they happened.
    """
    client = get_redis()
    try:
        state = state or refresh_server_state(client)
        marker = client.get(MARKER_KEY)
    except redis.RedisError as exc:
        raise _unavailable(exc) from exc
    if state.may_evict:
        raise _evicting(state)
    if marker != state.epoch:
        rebuild()
