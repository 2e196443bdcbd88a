"""The profile cache (Redis): public profile fields only, never secrets.

Each profile is a key with a TTL; a sorted set indexes them by expiry so the
health check can count live entries without scanning the keyspace.
"""

import json
import time

import redis

from tokens.revocation import get_redis

PREFIX = "flowauth:profile:"
INDEX_KEY = PREFIX + "index"
TTL_SECONDS = 1800


def _key(user_id) -> str:
    return f"{PREFIX}{user_id}"


def get(user_id) -> dict | None:
    try:
        raw = get_redis().get(_key(user_id))
    except redis.RedisError:
        return None  # a cold cache is only slower
    return json.loads(raw) if raw else None


def put(user_id, profile: dict) -> None:
    expires = time.time() + TTL_SECONDS
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.set(_key(user_id), json.dumps(profile), ex=TTL_SECONDS)
        pipe.zadd(INDEX_KEY, {str(user_id): expires})
        pipe.zremrangebyscore(INDEX_KEY, "-inf", time.time())
        pipe.execute()
    except redis.RedisError:
        pass


def invalidate(user_id) -> None:
    """Drop a cached profile. Raises if Redis cannot confirm it, so no stale profile survives."""
    pipe = get_redis().pipeline(transaction=False)
    pipe.delete(_key(user_id))
    pipe.zrem(INDEX_KEY, str(user_id))
    pipe.execute()


def cached_profiles_count() -> int | None:
    try:
        return get_redis().zcount(INDEX_KEY, time.time(), "+inf")
    except redis.RedisError:
        return None
