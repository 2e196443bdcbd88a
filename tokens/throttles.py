"""Per-IP throttles of /revoke and /introspect (token guessing and scanning).

Counts live in the Django cache (Redis). Rates are read when used. When the
cache cannot be reached the request is refused with 503, never let through.
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from tokens.exceptions import AuthUnavailable


class _CacheBackedIPThrottle(SimpleRateThrottle):
    rate_setting = ""

    def __init__(self):
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_rate(self) -> str:
        return getattr(settings, self.rate_setting)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # the cache is down: fail closed
            raise AuthUnavailable() from exc


class RevokeRateThrottle(_CacheBackedIPThrottle):
    scope = "revoke"
    rate_setting = "REVOKE_THROTTLE_RATE"


class IntrospectRateThrottle(_CacheBackedIPThrottle):
    scope = "introspect"
    rate_setting = "INTROSPECT_THROTTLE_RATE"
