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

Redis Cluster: every key a request reads carries the user's hash tag
(``flowauth:rv:{<user id>}:...``), so the one MGET reads one slot, and each
slot has its own marker (and "since") in that slot, holding the epoch of the
primary that served it when the cache was rebuilt. A node restarted, failed
over, flushed or evicting, or a slot moved to another node, makes the
markers of its slots missing or foreign: the next request reading one
rebuilds. docs/design.md has the argument.

Sibling services (``ROLE = "verifier"``) read the same keys but own no
database: to them an incomplete cache is simply unavailable (503) until
FlowAuth, which checks completeness on every request and in its health
check, has rebuilt it.
"""

import functools
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from flowauth import metrics
from flowauth.errors import RevocationStoreUnavailable
from tokens import local_cache, selectors
from tokens.lifetimes import Cutoff, Revocation, cutoff_refuses
from tokens.redis_client import (
    ERRORS,
    ServerState,
    forget_server_state,
    get_redis,
    is_cluster,
    node_state,
    refresh_node_state,
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


# Every key of a user's sessions carries the user's id as its hash tag: in a cluster, the
# keys one request reads (and the marker of their slot) sit in one slot.
def _tag(user_id) -> str:
    """The user's id as a hash tag: braces (which would end or empty the tag) escaped, injectively."""
    return str(user_id).replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


def session_key(session_id: str, user_id) -> str:
    return f"{PREFIX}{{{_tag(user_id)}}}:s:{session_id}"


def refresh_key(jti: str, user_id) -> str:
    return f"{PREFIX}{{{_tag(user_id)}}}:j:{jti}"


def cutoff_key(user_id) -> str:
    return f"{PREFIX}{{{_tag(user_id)}}}:u"


def slot_of(key: str) -> int:
    return key_slot(key.encode())


@functools.cache
def _slot_tags() -> tuple[str, ...]:
    """For each of the 16384 slots, a short hash tag that lands in it (found once, in about 0.1 s)."""
    tags: list[str | None] = [None] * REDIS_CLUSTER_HASH_SLOTS
    missing, n = REDIS_CLUSTER_HASH_SLOTS, 0
    while missing:
        tag = format(n, "x")
        slot = key_slot(tag.encode())
        if tags[slot] is None:
            tags[slot] = tag
            missing -= 1
        n += 1
    return tuple(tags)


def slot_key(slot: int, name: str) -> str:
    """A per-slot key of the store (``complete``, ``since``, ``rebuild-guard``): it lives in ``slot``."""
    return f"{PREFIX}{{{_slot_tags()[slot]}}}:{name}"


def marker_key(key: str) -> str:
    """The completeness marker a read of ``key`` checks: the one marker, or in a cluster its slot's."""
    return slot_key(slot_of(key), "complete") if is_cluster() else MARKER_KEY


def since_key(key: str) -> str:
    """When the cache that ``key`` belongs to was last rebuilt (epoch seconds)."""
    return slot_key(slot_of(key), "since") if is_cluster() else SINCE_KEY


# --- the store ------------------------------------------------------------


def _client():
    """The store's client; a cluster that cannot give its slot map is unavailable, like any Redis error."""
    try:
        return get_redis()
    except ERRORS as exc:
        raise _unavailable(exc) from exc


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
    # In a cluster: False when the shard holding ``key`` lost data (its slot's marker is missing or foreign).
    complete: bool | None = None


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
    key = (session_id, refresh_jti, user_id, session_start)
    state = server_state()
    if state is not None and state.age() <= token_settings.SERVER_STATE_MAX_AGE:
        verdict, token = cache.lookup(key, state)
        if verdict is not None:
            return verdict  # counted by the cache (LocalCache.count_hits)
        if cache.tracks_another_server(state):
            # Read before a failover finished (a replica about to be promoted, its old replication
            # id): re-read it with this MGET rather than when it is SERVER_STATE_MAX_AGE old.
            forget_server_state()
    else:  # the server's state is re-read with the MGET first (evictions, a failover): no answer from the map
        _, token = cache.lookup(key, answer=False)
    _REDIS_READS.inc()
    revoked = _read_verdict(
        session_id=session_id, refresh_jti=refresh_jti, user_id=user_id, session_start=session_start
    )
    cache.store(
        key,
        revoked,
        token,
        (session_key(session_id, user_id), refresh_key(refresh_jti, user_id), cutoff_key(user_id)),
        server_state(),
    )
    return revoked


def _read_from_server(client, keys: tuple, extra: ExtraSet | None) -> tuple[list, ServerState]:
    """One server: the MGET, now and then with the server's INFO in the same round trip."""
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
            if extra is not None:
                extra.created, extra.since = bool(replies[1]), _since(replies[2])
            if read_state:
                return replies[0], remember_server_state(client, ServerState.from_info(replies[-1]))
            return replies[0], server_state(client)
        values = client.mget(*keys)
        return values, server_state(client)  # after the call: a reconnect (restart, failover) has just read it
    except ERRORS as exc:
        raise _unavailable(exc) from exc


def _read_from_cluster(client, keys: tuple, extra: ExtraSet | None) -> tuple[list, ServerState]:
    """A cluster: the MGET goes to the primary serving the user's slot (MOVED and ASK are followed).

    Its state is judged by the node that serves the slot after the read: a
    marker matches only the epoch of the node that stamped it, so a slot
    that moved meanwhile reads as incomplete, never as complete by mistake.
    With ``extra`` (a DPoP proof's jti, in a slot of its own), the pipeline
    also reads that slot's marker and "since": a shard that lost the jti
    must not make a replay look new.
    """
    slot = slot_of(keys[0])
    try:
        if extra is None:
            values = client.mget(*keys)
        else:
            pipe = client.pipeline()
            pipe.mget(*keys)
            pipe.set(extra.key, "1", nx=True, ex=extra.ttl)
            pipe.mget(marker_key(extra.key), since_key(extra.key))
            values, created, (extra_marker, since) = pipe.execute()
            extra.created, extra.since = bool(created), _since(since)
            extra.complete = marker_holds_epoch(client, extra.key, extra_marker)
        return values, _slot_state(client, slot)
    except ERRORS as exc:
        raise _unavailable(exc) from exc


def marker_holds_epoch(client, key: str, marker) -> bool:
    """Whether ``marker`` (read from ``marker_key(key)``) holds the epoch of the server serving ``key`` now."""
    if marker is None:
        return False
    state = _slot_state(client, slot_of(key)) if is_cluster(client) else server_state(client)
    return state is not None and marker == state.epoch


def _slot_state(client, slot: int) -> ServerState:
    node = client.nodes_manager.get_node_from_slot(slot)
    state = node_state(node)
    if state is None or state.age() > token_settings.SERVER_STATE_MAX_AGE:
        state = refresh_node_state(client, node)  # one INFO to that node, now and then
    return state


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
    client = _client()
    user_keys = (session_key(session_id, user_id), refresh_key(refresh_jti, user_id), cutoff_key(user_id))
    keys = (marker_key(user_keys[-1]), *user_keys)
    if is_cluster(client):
        values, state = _read_from_cluster(client, keys, extra)
    else:
        values, state = _read_from_server(client, keys, extra)
    if not isinstance(values, list) or len(values) != len(keys):
        raise RevocationStoreUnavailable("malformed MGET reply")
    marker, by_session, by_refresh, cutoff = values
    if state.may_evict:
        raise _evicting(state)
    if extra is not None and extra.complete is False:
        marker = None  # the replay key's own shard lost data: rebuild before trusting "new"
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
    except ERRORS as exc:
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
    pipe = _client().pipeline(transaction=False)
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
        pipe.set(session_key(revocation.session_id, revocation.user_id), "1", ex=ttl)
        written += 1
        if revocation.live_refresh_jti:
            pipe.set(refresh_key(revocation.live_refresh_jti, revocation.user_id), "1", ex=ttl)
            written += 1
    if not written:
        return 0
    try:
        pipe.execute()
        local_cache.published(get_redis())
    except ERRORS as exc:
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

# A cluster shard's part of a rebuild, on its primary: its slots' markers and "since",
# only if the guard set on that node before the writes is still this rebuild's (a flush
# or restart of the node during the rebuild removed it). The keys are passed as ARGV:
# a cluster refuses declared keys of several slots, while Redis 7's flag lets the script
# touch any slot this node serves (and fails it on a slot the node no longer serves).
# ARGV: lock token, epoch, now, the guard, then (marker, since) per slot.
_FINISH_SHARD = """#!lua flags=allow-cross-slot-keys
if redis.call('GET', ARGV[4]) ~= ARGV[1] then return 0 end
for i = 5, #ARGV, 2 do
  redis.call('SET', ARGV[i], ARGV[2])
  redis.call('SET', ARGV[i + 1], ARGV[3])
end
redis.call('DEL', ARGV[4])
return 1
"""

# How many of a shard's slot markers do not hold its epoch (0: the shard is complete).
# ARGV: the epoch, then the markers.
_CHECK_SHARD = """#!lua flags=allow-cross-slot-keys,no-writes
local foreign = 0
for i = 2, #ARGV do
  if redis.call('GET', ARGV[i]) ~= ARGV[1] then foreign = foreign + 1 end
end
return foreign
"""


def _release_lock(client, lock_token: str) -> None:
    try:
        client.eval(_RELEASE_LOCK, 1, REBUILD_LOCK_KEY, lock_token)
    except ERRORS:
        pass  # it expires by itself; the original failure is what the caller must see


def rebuild() -> int:
    """Restore every live revocation from the database, then mark the cache complete.

    Only one process rebuilds at a time (SET NX lock); others get
    RevocationStoreUnavailable until it is done, never a partial answer.
    """

    client = _client()
    if is_cluster(client):
        return _rebuild_cluster(client)
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
    except ERRORS as exc:
        raise _unavailable(exc) from exc
    if not finished:
        raise RevocationStoreUnavailable("the cache changed during the rebuild")
    logger.info("revocation cache rebuilt: %d keys", written)
    return written


def shards(client) -> list[tuple]:
    """Each primary with the slots it serves, from the client's slot map."""
    slots: dict[str, list[int]] = {}
    nodes = {}
    for slot, serving in client.nodes_manager.slots_cache.items():
        primary = serving[0]
        nodes[primary.name] = primary
        slots.setdefault(primary.name, []).append(slot)
    return [(nodes[name], sorted(owned)) for name, owned in sorted(slots.items())]


def _shard_states(client) -> list[tuple]:
    """(primary, its slots, its state read now); refuses a cluster with any primary that may evict."""
    found = [(node, owned, refresh_node_state(client, node)) for node, owned in shards(client)]
    if sum(len(owned) for _, owned, _ in found) != REDIS_CLUSTER_HASH_SLOTS:
        raise RevocationStoreUnavailable("the cluster does not serve every slot")
    for _, _, state in found:
        if state.may_evict:
            raise _evicting(state)
    return found


def _rebuild_cluster(client) -> int:
    """A rebuild across every shard: guard each primary, write, then stamp each shard's slots.

    A slot that moved, or a node flushed or restarted, between the guards and
    the stamps fails its shard's script: the rebuild reports unavailable and
    the next request rebuilds again.
    """
    lock_token = secrets.token_hex(8)
    try:
        found = _shard_states(client)
        if not client.set(REBUILD_LOCK_KEY, lock_token, nx=True, ex=REBUILD_LOCK_SECONDS):
            raise RevocationStoreUnavailable("rebuild in progress")
        try:
            for node, owned, _ in found:
                client.get_redis_connection(node).set(
                    slot_key(owned[0], "rebuild-guard"), lock_token, ex=REBUILD_LOCK_SECONDS
                )
            written = write(selectors.revocations_to_guard(), cutoffs=selectors.cutoffs_to_guard())
            now = int(timezone.now().timestamp())
            finished = True
            for node, owned, state in found:
                args = [lock_token, state.epoch, now, slot_key(owned[0], "rebuild-guard")]
                for slot in owned:
                    args += [slot_key(slot, "complete"), slot_key(slot, "since")]
                finished = bool(client.get_redis_connection(node).eval(_FINISH_SHARD, 0, *args))
                if not finished:
                    break
        finally:
            _release_lock(client, lock_token)
    except ERRORS as exc:
        raise _unavailable(exc) from exc
    if not finished:
        raise RevocationStoreUnavailable("the cache changed during the rebuild")
    logger.info("revocation cache rebuilt on %d shards: %d keys", len(found), written)
    return written


def ensure_complete(state: ServerState | None = None) -> None:
    """Rebuild now if the marker is missing or from another epoch.

    ``state`` is the server's state just read (by default it is read now).
    The health check calls this: it notices evictions, a policy changed to an
    evicting one, or a restart, on connections opened before they happened.
    In a cluster every shard's slot markers are checked against its primary.
    """
    client = _client()
    if is_cluster(client):
        try:
            found = _shard_states(client)
            complete = all(
                client.get_redis_connection(node).eval(
                    _CHECK_SHARD, 0, state.epoch, *(slot_key(slot, "complete") for slot in owned)
                )
                == 0
                for node, owned, state in found
            )
        except ERRORS as exc:
            raise _unavailable(exc) from exc
        if not complete:
            rebuild()
        return
    try:
        state = state or refresh_server_state(client)
        marker = client.get(MARKER_KEY)
    except ERRORS as exc:
        raise _unavailable(exc) from exc
    if state.may_evict:
        raise _evicting(state)
    if marker != state.epoch:
        rebuild()
