"""Reads over sessions and refresh tokens."""

from collections.abc import Iterator
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from tokens.lifetimes import Cutoff, Revocation, guard_horizon
from tokens.models import RefreshToken, Session, UserCutoff
from tokens.settings import token_settings


def revocations_to_guard(now: datetime | None = None) -> Iterator[Revocation]:
    """Every revoked session that may still have a live access token."""
    return _revocations(Session.objects.filter(revoked_at__gt=guard_horizon(now or timezone.now())))


def cutoffs_to_guard(now: datetime | None = None) -> Iterator[Cutoff]:
    """Every user cut-off, deleted users' included, that may still refuse a live access token."""
    rows = UserCutoff.objects.filter(not_before__gt=guard_horizon(now or timezone.now()))
    for user_id, not_before, keep in rows.values_list("user_id", "not_before", "keep_session_id").iterator(2000):
        yield Cutoff(user_id, not_before, keep)


def cutoff_for(user_id) -> UserCutoff | None:
    return UserCutoff.objects.filter(user_id=str(user_id)).first()


def revocations_for(session_ids: list[str]) -> list[Revocation]:
    return list(_revocations(Session.objects.filter(pk__in=session_ids, revoked_at__isnull=False)))


def _revocations(sessions, chunk: int = 2000) -> Iterator[Revocation]:
    """Revocations for a queryset of revoked sessions, two queries per chunk."""
    rows = sessions.order_by("pk").values_list("id", "user_id", "revoked_at", "expires_at")
    last_id = ""
    while True:
        batch = list(rows.filter(pk__gt=last_id)[:chunk])
        if not batch:
            return
        ids = [row[0] for row in batch]
        live_jti = dict(
            RefreshToken.objects.filter(session_id__in=ids, used_at__isnull=True).values_list("session_id", "jti")
        )
        for session_id, user_id, revoked_at, expires_at in batch:
            yield Revocation(session_id, user_id, revoked_at, expires_at, live_jti.get(session_id))
        last_id = ids[-1]


def is_revoked_in_database(*, session_id: str, refresh_jti: str) -> bool:
    """The database answer to the revocation check, in one query."""
    return not RefreshToken.objects.filter(
        jti=refresh_jti, session_id=session_id, is_revoked=False, session__revoked_at__isnull=True
    ).exists()


def live_sessions_count(now: datetime | None = None) -> int:
    return Session.objects.live(now).count()


def guarded_revocations_count(now: datetime | None = None) -> int:
    """Revoked sessions whose keys are still needed in the cache."""
    return Session.objects.filter(revoked_at__gt=guard_horizon(now or timezone.now())).count()


def live_sessions_for(user_id) -> "QuerySet[Session]":  # noqa: F821
    return Session.objects.live().filter(user_id=user_id)


def expired_rows(now: datetime | None = None) -> tuple:
    """Refresh rows and sessions no longer needed by rotation, reuse checks or the cache."""
    now = now or timezone.now()
    grace = token_settings.REFRESH_GRACE_SECONDS
    keep_revoked_until = guard_horizon(now)
    tokens = RefreshToken.objects.filter(expires_at__lt=now - grace)
    sessions = Session.objects.filter(expires_at__lt=now - grace).filter(
        Q(revoked_at__isnull=True) | Q(revoked_at__lt=keep_revoked_until)
    )
    return tokens, sessions


def expired_tombstones(now: datetime | None = None):
    """Cut-offs of deleted users that no access token of theirs can outlive any more."""
    return UserCutoff.objects.filter(user_deleted=True, not_before__lt=guard_horizon(now or timezone.now()))
