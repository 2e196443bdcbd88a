"""The tokens app's settings object, read when used (never bound at import).

Values come from ``settings.FLOWAUTH_TOKENS``; lifetimes are seconds.
"""

from datetime import timedelta

from django.conf import settings

DEFAULTS = {
    "ACCESS_TOKEN_LIFETIME": 900,
    "REFRESH_TOKEN_LIFETIME": 1_209_600,
    "SESSION_MAX_AGE": 7_776_000,
    "REFRESH_GRACE_SECONDS": 10,
    "REVOCATION_FAILURE_MODE": "closed",
    # Clock skew allowed when checking exp/nbf/iat, and added to revocation TTLs.
    "LEEWAY": 0,
    # Extra seconds a revocation key outlives the last token it refuses.
    "REVOCATION_TTL_MARGIN": 5,
    # Longer tokens are refused before any decoding work.
    "MAX_TOKEN_BYTES": 4096,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": "",
    "VERIFYING_KEY": "",
    "AUDIENCE": None,
    "ISSUER": None,
    "REDIS_URL": "",
    "REDIS_SOCKET_TIMEOUT": 1.0,
    "UNAVAILABLE_RETRY_AFTER": 5,
}

_DURATIONS = {"ACCESS_TOKEN_LIFETIME", "REFRESH_TOKEN_LIFETIME", "SESSION_MAX_AGE", "REFRESH_GRACE_SECONDS"}


class TokenSettings:
    def __getattr__(self, name: str):
        if name not in DEFAULTS:
            raise AttributeError(name)
        value = getattr(settings, "FLOWAUTH_TOKENS", {}).get(name, DEFAULTS[name])
        if name in _DURATIONS and not isinstance(value, timedelta):
            value = timedelta(seconds=value)
        return value


token_settings = TokenSettings()
