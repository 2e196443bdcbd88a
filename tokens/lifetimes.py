"""The TTL rules of revocation: how long a revoked session or a cut-off must be refused.

Pure functions of the configured lifetimes and the clock, with no I/O:
revocation.py writes what these compute, selectors.py reads the database
rows they describe.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from tokens.settings import token_settings


@dataclass(frozen=True)
class Revocation:
    """One revoked session, with the jti of its refresh token that was live."""

    session_id: str
    user_id: str  # the hash tag of the session's keys
    revoked_at: datetime
    session_expires_at: datetime
    live_refresh_jti: str | None = None

    def guard_until(self) -> datetime:
        """When the last access token this revocation must refuse expires.

        No access token of the session was issued after ``revoked_at`` and
        none outlives the session's absolute end.
        """
        return min(self.revoked_at + token_settings.ACCESS_TOKEN_LIFETIME, self.session_expires_at)

    def ttl_seconds(self, now: datetime) -> int:
        return _guard_ttl(self.guard_until(), now)


@dataclass(frozen=True)
class Cutoff:
    """A user's cut-off: every session that started at or before ``not_before`` is refused.

    The cache key lives until the last access token of such a session has
    expired: none was issued after ``not_before`` (their rows are revoked in
    the same transaction), and each lives at most ``ACCESS_TOKEN_LIFETIME``.
    """

    user_id: str
    not_before: datetime
    keep_session_id: str = ""

    def ttl_seconds(self, now: datetime) -> int:
        return _guard_ttl(self.not_before + token_settings.ACCESS_TOKEN_LIFETIME, now)

    def cache_value(self) -> str:
        micros = int(self.not_before.timestamp()) * 1_000_000 + self.not_before.microsecond
        return f"{micros}:{self.keep_session_id}"


def cutoff_refuses(value: str | None, *, session_id: str, session_start: int) -> bool:
    """Whether a cached cut-off (``"<micros>:<kept session id>"``) refuses this session."""
    if value is None:
        return False
    not_before, _, kept = value.partition(":")
    return session_start <= int(not_before) and session_id != kept


def _guard_ttl(guard_until: datetime, now: datetime) -> int:
    """Remaining guard time plus leeway and margin, rounded up; 0 = nothing left to guard.

    A token is accepted up to ``LEEWAY`` seconds past its ``exp``, so the
    guard lasts that much longer too.
    """
    remaining = (guard_until - now).total_seconds() + token_settings.LEEWAY
    if remaining <= 0:
        return 0
    return max(1, math.ceil(remaining + token_settings.REVOCATION_TTL_MARGIN))


def guard_horizon(now: datetime) -> datetime:
    """Sessions revoked after this moment may still have an access token that would be accepted."""
    return now - token_settings.ACCESS_TOKEN_LIFETIME - timedelta(seconds=token_settings.LEEWAY)
