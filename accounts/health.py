"""What accounts adds to the health answer: the number of live cached profiles."""

from accounts.profile_cache import cached_profiles_count


def cached_profiles(body: dict) -> bool:
    # Redis already failed its check: do not spend a second timeout on it.
    redis_ok = body.get("redis") != "unavailable"
    body["sessionStats"]["cachedProfiles"] = cached_profiles_count() if redis_ok else None
    return True
