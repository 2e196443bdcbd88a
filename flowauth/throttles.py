"""Every throttle of FlowAuth: login, registration, refresh, password change, /revoke, /introspect.

DRF's SimpleRateThrottle reads a history list, checks it and writes it back:
a parallel burst passes the limit between the read and the write. These count
with one atomic INCR per request in the shared cache (Redis, through Django's
cache API), so the limit holds across threads, workers and servers:

- the first request of a window creates the counter with the window's TTL
  (``cache.add``: SET NX EX), every request increments it (``cache.incr``:
  INCRBY in a Lua script that refuses a missing key);
- the window starts at the first request and ends when the key expires;
  ``Retry-After`` is the key's remaining TTL.

Every attempt counts, successful or not, and is counted before the password
is hashed. If the cache cannot answer, the request is refused with 503
``auth_unavailable``: never unlimited attempts.

Rates are read from ``settings.FLOWAUTH_THROTTLE_RATES`` (the one place every
scope's rate is set) when a request is throttled (DRF builds throttles per
request), so tests can override them. A scope without a rate there is a
configuration error (system check ``flowauth.E001``), never an unlimited door.
"""

import hashlib
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import checks
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

from flowauth import metrics
from flowauth.errors import AuthUnavailable

logger = logging.getLogger("flowauth.throttle")


class AtomicRateThrottle(SimpleRateThrottle):
    """A fixed window counted with an atomic increment; subclasses name the scope and the ident."""

    cache_format = "throttle:%(scope)s:%(ident)s"

    def get_rate(self) -> str | None:
        return settings.FLOWAUTH_THROTTLE_RATES.get(self.scope)

    def get_ident_value(self, request) -> str | None:
        return self.get_ident(request)

    def get_cache_key(self, request, view) -> str | None:
        ident = self.get_ident_value(request)
        if not ident:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        try:
            count = self._hit(self.key)
        except Exception as exc:  # django-redis' ConnectionInterrupted and redis errors alike
            logger.warning("throttle store unavailable scope=%s error=%s", self.scope, type(exc).__name__)
            metrics.REDIS_FAILURES.labels(component="throttle").inc()
            raise AuthUnavailable() from exc
        if count <= self.num_requests:
            return True
        logger.info("throttled scope=%s ip=%s", self.scope, request.META.get("REMOTE_ADDR"))
        metrics.THROTTLED.labels(scope=self.scope).inc()
        return False

    def _hit(self, key: str) -> int:
        for _ in range(2):
            cache.add(key, 0, timeout=self.duration)
            try:
                return cache.incr(key)
            except ValueError:
                continue  # the window expired between add and incr: open a new one
        raise RuntimeError("throttle counter vanished twice")

    def wait(self) -> int:
        try:
            remaining = cache.ttl(self.key)
        except Exception:
            remaining = None
        if not remaining or remaining < 0:
            return self.duration
        return max(1, int(remaining))


class LoginIPThrottle(AtomicRateThrottle):
    """Per client IP: REMOTE_ADDR, or X-Forwarded-For only behind NUM_PROXIES trusted proxies."""

    scope = "login_ip"


class LoginEmailThrottle(AtomicRateThrottle):
    """Per account, whatever the source: stops one address being guessed from many IPs."""

    scope = "login_email"

    # The field that names the account: "email" in the API, "username" in Django's admin login form.
    email_field = "email"

    def get_ident_value(self, request) -> str | None:
        data = getattr(request, "data", request.POST)  # a DRF request, or Django's (the admin login)
        email = data.get(self.email_field) if hasattr(data, "get") else None
        if not isinstance(email, str) or not email.strip():
            return None  # the serializer answers 400
        # Hashed: the cache key must not carry the address itself.
        # surrogatepass: a lone surrogate ("\ud800") is hashed too, never an encoding error.
        normalized = get_user_model().normalize_username(email)  # the form accounts are looked up by
        return hashlib.sha256(normalized.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class AdminLoginEmailThrottle(LoginEmailThrottle):
    email_field = "username"


class PasswordChangeThrottle(AtomicRateThrottle):
    """Per account: the current password is a password guess like a login's."""

    scope = "password_user"

    def get_ident_value(self, request) -> str | None:
        user_id = getattr(request.user, "id", None)
        return str(user_id) if user_id is not None else None


class RegisterIPThrottle(AtomicRateThrottle):
    scope = "register_ip"


class RefreshIPThrottle(AtomicRateThrottle):
    scope = "refresh_ip"


class RevokeRateThrottle(AtomicRateThrottle):
    """Per client IP at /revoke (RFC 7009): token guessing and scanning."""

    scope = "revoke"


class IntrospectRateThrottle(AtomicRateThrottle):
    """Per client IP at /introspect (RFC 7662)."""

    scope = "introspect"


def refuse_login_attempt(request, throttles) -> int | None:
    """For views outside DRF (Django's admin login): seconds to wait, or None to let it through.

    Counts exactly as the API's login does (same scopes, same counters), so
    every login pathway shares one budget per account and per client.
    """
    for throttle in throttles:
        if not throttle.allow_request(request, None):
            return throttle.wait()
    return None


def _scopes(cls=AtomicRateThrottle):
    for sub in cls.__subclasses__():
        if getattr(sub, "scope", None):
            yield sub.scope
        yield from _scopes(sub)


@checks.register(checks.Tags.security)
def check_rates(app_configs=None, **kwargs):
    rates = getattr(settings, "FLOWAUTH_THROTTLE_RATES", {})
    errors = []
    for scope in sorted(set(_scopes())):
        rate = rates.get(scope)
        try:
            SimpleRateThrottle.parse_rate(None, rate)
        except (ValueError, KeyError, AttributeError, TypeError):
            rate = None
        if not rate:
            errors.append(
                checks.Error(
                    f"FLOWAUTH_THROTTLE_RATES has no valid rate for the scope {scope!r}",
                    hint='Set it as "<count>/<s|min|hour|day>".',
                    id="flowauth.E001",
                )
            )
    return errors
