"""What tokens adds to the health answer: Redis (and the revocation cache's completeness) and the database."""

from django.db import connection

from flowauth.errors import RevocationStoreUnavailable
from tokens import redis_client, revocation, selectors


def redis_and_database(body: dict) -> bool:
    # A hung Redis costs one socket timeout here: nothing else asks it once INFO failed.
    state = _redis_server()
    redis_ok = state is not None
    body["redis"] = "connected" if redis_ok else "unavailable"
    database_ok = _database(body["sessionStats"])
    body["database"] = "connected" if database_ok else "unavailable"
    complete = _report_redis(body, state) if redis_ok else False
    return redis_ok and database_ok and complete


def _redis_server():
    """The Redis server's state, read now (one INFO), or None when it does not answer."""
    try:
        return redis_client.refresh_server_state()
    except redis_client.ERRORS:
        return None


def _report_redis(body: dict, state) -> bool:
    body["redisEvictionPolicy"], body["redisEvictedKeys"] = state.policy, state.evicted_keys
    warnings = []
    if state.may_evict:
        warnings.append(
            f"maxmemory-policy is {state.policy} with maxmemory set: revocation keys may be "
            "evicted, so the revocation cache is not trusted (set noeviction)"
        )
    elif state.policy != "noeviction":
        warnings.append(f"maxmemory-policy is {state.policy}: harmless while maxmemory is 0, set noeviction")
    if state.evicted_keys:
        warnings.append(f"Redis has evicted {state.evicted_keys} keys since it started")
    if warnings:
        body["warnings"] = warnings
    try:
        revocation.ensure_complete(state)
    except RevocationStoreUnavailable:
        return False
    return True


def _database(stats: dict) -> bool:
    stats.setdefault("activeSessions", None)
    stats.setdefault("blacklistedTokens", None)
    try:
        connection.ensure_connection()
        stats["activeSessions"] = selectors.live_sessions_count()
        stats["blacklistedTokens"] = selectors.guarded_revocations_count()
    except Exception:  # any database failure is reported, not raised
        return False
    return True
