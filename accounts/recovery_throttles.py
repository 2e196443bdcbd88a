"""Throttles of the recovery endpoints, counted like the login's (flowauth/throttles.py)."""

from flowauth.throttles import AtomicRateThrottle, LoginEmailThrottle


class ResetEmailThrottle(LoginEmailThrottle):
    """Per address (hashed), whatever the source: limits mail sent to one inbox."""

    scope = "reset_email"


class ResetIPThrottle(AtomicRateThrottle):
    scope = "reset_ip"


class CodeIPThrottle(AtomicRateThrottle):
    """Per client IP on every endpoint that checks a code or a link token."""

    scope = "code_ip"
