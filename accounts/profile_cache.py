"""The profile cache (Redis): public profile fields only, never secrets.

Each profile is a key with a TTL; a sorted set indexes them by expiry so the
health check can count live entries without scanning the keyspace.
"""

import json
import logging
import time

from flowauth.errors import AuthUnavailable
from tokens.redis_client import ERRORS, get_redis

logger = logging.getLogger("flowauth.profile_cache")

PREFIX = "flowauth:profile:"
INDEX_KEY = PREFIX + "index"
TTL_SECONDS = 1800


def _key(user_id) -> str:
    return f"{PREFIX}{user_id}"


def get(user_id) -> dict | None:
    try:
        raw = get_redis().get(_key(user_id))
    except ERRORS:
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
    except ERRORS:
        pass


def _delete(user_id) -> None:
    pipe = get_redis().pipeline(transaction=False)
    pipe.delete(_key(user_id))
    pipe.zrem(INDEX_KEY, str(user_id))
    pipe.execute()


def invalidate(user_id) -> None:
    """Drop a cached profile, before a write: 503 ``auth_unavailable`` if Redis cannot confirm it.

    Called before the profile changes, so a Redis that cannot be written
    stops the change: nothing is written that a cached copy would contradict.
    """
    try:
        _delete(user_id)
    except ERRORS as exc:
        logger.warning("profile cache unavailable user=%s error=%s", user_id, type(exc).__name__)
        raise AuthUnavailable() from exc


def invalidate_after_write(user_id) -> None:
    """Drop a cached profile again once the write is done (a read may have cached the old row meanwhile).

    The write has happened, so it is answered as done: a failure here is logged, never a 500.
    """
    try:
        _delete(user_id)
    except ERRORS as exc:
        logger.warning("profile cache not invalidated after a write user=%s error=%s", user_id, type(exc).__name__)


def cached_profiles_count() -> int | None:
    try:
        return get_redis().zcount(INDEX_KEY, time.time(), "+inf")
    except ERRORS:
        return None
