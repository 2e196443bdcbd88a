"""Token lifecycle: issue, rotate, revoke. Views, admin and commands call these.

Rotation is a compare-and-set inside one transaction:

1. ``UPDATE session SET last_used_at WHERE id AND not revoked AND not past
   its end``: this row lock serialises a refresh against a concurrent
   revocation of the same session (so a revoke cannot miss a token that a
   racing rotation is about to insert).
2. ``UPDATE refresh SET used_at WHERE jti AND used_at IS NULL AND NOT
   revoked``: exactly one request wins.

A loser inside the grace window gets the winner's refresh token (the same
row, re-signed to the same string) and a fresh access token; anything else
presented twice is theft and ends the session.
"""

import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from flowauth import metrics
from flowauth.errors import (
    AuthUnavailable,
    EmailUnverified,
    FlowAuthError,
    InvalidDPoPProof,
    RefreshReused,
    SessionRevoked,
    TokenExpired,
    TokenInvalid,
)
from tokens import dpop, events, jwt, lifetimes, revocation, selectors
from tokens.models import RefreshToken, RevokeReason, Session, UserCutoff
from tokens.settings import token_settings

logger = logging.getLogger("flowauth.auth")


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    session: Session
    access_expires_at: datetime
    refresh_expires_at: datetime

    def as_dict(self) -> dict:
        if self.session.dpop_jkt:  # RFC 9449 section 5: the client learns its tokens are bound
            return {"access": self.access, "refresh": self.refresh, "token_type": "DPoP"}
        return {"access": self.access, "refresh": self.refresh}


@dataclass(frozen=True)
class ClientInfo:
    device_name: str = ""
    user_agent: str = ""
    ip_address: str | None = None
    # The thumbprint of the request's valid DPoP proof key (tokens.dpop.token_request_jkt); "" without one.
    dpop_jkt: str = ""


def _pair(row: RefreshToken, session: Session, now: datetime) -> TokenPair:
    bound = dpop.token_claims(session.dpop_jkt)
    refresh = jwt.encode_refresh(
        jti=row.jti,
        user_id=row.user_id,
        session_id=session.id,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        extra=bound,
    )
    access, access_exp = jwt.encode_access(
        user_id=row.user_id,
        session_id=session.id,
        refresh_jti=row.jti,
        session_start=session.created_at,
        now=now,
        not_after=session_end(session),
        extra=bound,
        # From the session row: a refresh carries the login's (or the last /reauth's) time and methods.
        auth_time=session.auth_time,
        amr=tuple(session.amr.split()) or ("pwd",),
    )
    return TokenPair(access, refresh, session, access_exp, row.expires_at)


def session_end(session: Session) -> datetime:
    """The session's absolute end under the current SESSION_MAX_AGE: lowering it shortens live sessions."""
    by_current_maximum = session.created_at.replace(microsecond=0) + token_settings.SESSION_MAX_AGE
    return min(session.expires_at, by_current_maximum)


def _new_refresh_row(session: Session, now: datetime, replaces: RefreshToken | None = None) -> RefreshToken:
    # Whole seconds: the JWT carries epoch seconds and the row must re-sign identically.
    now = now.replace(microsecond=0)
    expires_at = min(now + token_settings.REFRESH_TOKEN_LIFETIME, session_end(session))
    return RefreshToken.objects.create(
        user_id=session.user_id,
        session=session,
        replaces=replaces,
        issued_at=now,
        expires_at=expires_at,
    )


def session_start_after_cutoff(user_id, now: datetime) -> datetime:
    """``now``, or just after the user's cut-off if that is not earlier (clocks of servers differ).

    A credential started after a cut-off must never fall under it: the fresh
    pair a password change answers with survives the change's own cut-off.
    """
    cutoff = selectors.cutoff_for(user_id)
    if cutoff is None or cutoff.not_before < now:
        return now
    return cutoff.not_before + timedelta(microseconds=1)


def issue_session(user, *, client: ClientInfo = ClientInfo(), amr: tuple[str, ...] = ("pwd",)) -> TokenPair:
    """Start a session (a refresh-token family) for ``user`` and return its first pair.

    ``amr`` says how the user proved who they are (``("pwd", "otp")`` after a second factor).
    """
    with transaction.atomic():
        now = session_start_after_cutoff(user.pk, timezone.now())
        session = Session.objects.create(
            user=user,
            device_name=client.device_name[:100],
            user_agent=client.user_agent[:400],
            ip_address=client.ip_address,
            created_at=now,
            last_used_at=now,
            dpop_jkt=client.dpop_jkt,
            auth_time=now,
            amr=" ".join(amr),
            expires_at=now.replace(microsecond=0) + token_settings.SESSION_MAX_AGE,
        )
        row = _new_refresh_row(session, now)
    logger.info("session started user=%s session=%s ip=%s", user.pk, session.id, client.ip_address)
    return _pair(row, session, now)


def rotate_refresh(raw: str, *, client: ClientInfo = ClientInfo()) -> TokenPair:
    """Use up a refresh token and return the session's next pair (see module doc)."""
    try:
        pair = _rotate_refresh(raw, client)
    except FlowAuthError:
        metrics.REFRESHES.labels(outcome="refused").inc()
        raise
    metrics.REFRESHES.labels(outcome="success").inc()
    return pair


def _rotate_refresh(raw: str, client: ClientInfo) -> TokenPair:
    token = jwt.decode(raw, jwt.RefreshToken)
    now = timezone.now()
    row = RefreshToken.objects.select_related("session", "user").filter(jti=token["jti"]).first()
    if row is None or str(row.user_id) != token[jwt.USER_ID_CLAIM] or row.session_id != token[jwt.SESSION_CLAIM]:
        raise TokenInvalid()
    # A bound session refreshes only with a proof by its key (RFC 9449 section 5); nothing is used up otherwise.
    if row.session.dpop_jkt and not hmac.compare_digest(client.dpop_jkt, row.session.dpop_jkt):
        raise InvalidDPoPProof()
    # Checked on the row itself: even a deactivation Django never saw (raw SQL) cannot refresh.
    if not row.user.is_active:
        raise SessionRevoked()
    if settings.REQUIRE_VERIFIED_EMAIL and not getattr(row.user, "email_verified", True):
        raise EmailUnverified()
    # Lifetimes as configured now: lowering them shortens sessions that already exist.
    if now >= session_end(row.session) or now >= row.issued_at + token_settings.REFRESH_TOKEN_LIFETIME:
        raise TokenExpired()
    try:
        return _rotate(row, now)
    except IntegrityError as exc:  # a new random id collided: rolled back whole, a retry draws another
        logger.error("refresh rotation conflict session=%s: %s", row.session_id, type(exc).__name__)
        raise AuthUnavailable() from exc
    except ReuseDetected:
        revoke_session(row.session, reason=RevokeReason.REUSE)
        metrics.REUSE_DETECTIONS.inc()
        events.record(
            events.Kind.REUSE_DETECTED,
            user=row.user,
            session_id=row.session_id,
            ip_address=client.ip_address,
            user_agent=client.user_agent,
        )
        events.reuse_detected.send(sender=RefreshToken, user=row.user, client=client)  # the user is told by email
        logger.warning(
            "refresh reuse detected user=%s session=%s jti=%s ip=%s",
            row.user_id,
            row.session_id,
            row.jti,
            client.ip_address,
        )
        raise RefreshReused() from None


class ReuseDetected(Exception):
    """A used refresh token was presented again, outside the grace window: its session must end."""


def _rotate(row: RefreshToken, now: datetime) -> TokenPair:
    """Claim ``row`` and issue its successor in one transaction.

    Raises SessionRevoked or TokenExpired when the session cannot rotate, and
    ReuseDetected when ``row`` was already used (the caller ends the session).
    """
    session = row.session
    with transaction.atomic():
        claimed = Session.objects.filter(pk=session.pk, revoked_at__isnull=True, expires_at__gt=now).update(
            last_used_at=now
        )
        if not claimed:
            session.refresh_from_db()
            raise SessionRevoked() if session.is_revoked else TokenExpired()
        won = RefreshToken.objects.filter(pk=row.pk, used_at__isnull=True, is_revoked=False).update(used_at=now)
        if won:
            successor = _new_refresh_row(session, now, replaces=row)
            return _pair(successor, session, now)
        row.refresh_from_db()
        if row.is_revoked:
            raise SessionRevoked()
        successor = _grace_successor(row, now)
        if successor is not None:
            return _pair(successor, session, now)
    raise ReuseDetected()


def _grace_successor(row: RefreshToken, now: datetime) -> RefreshToken | None:
    """The live token that replaced ``row``, if ``row`` may still be presented."""
    grace = token_settings.REFRESH_GRACE_SECONDS
    if not grace or row.used_at is None or now > row.used_at + grace:
        return None
    return RefreshToken.objects.filter(replaces=row, used_at__isnull=True, is_revoked=False).first()


def revoke_session(session: Session, *, reason: str, actor=None) -> None:
    """End ``session``: in the database, then in Redis before returning.

    Idempotent: revoking an ended session rewrites its cache keys. Raises
    RevocationStoreUnavailable, with nothing committed, when Redis could not
    be written; a retry then does the whole revocation.
    """
    revoke_sessions(Session.objects.filter(pk=session.pk), reason=reason, actor=actor)


def revoke_sessions(sessions, *, reason: str, actor=None) -> int:
    """Bulk form of revoke_session over a queryset; returns how many were newly ended."""
    with transaction.atomic():
        ids = list(sessions.values_list("pk", flat=True))
        ended = _end_session_rows(ids, reason=reason, actor=actor)
        # Redis is written before the commit: if it fails, the transaction rolls
        # back and nothing is half-done; if the commit fails after it, a live
        # session is refused until its key expires, the safe direction.
        revocation.write(selectors.revocations_for(ids))
    _log_ended(ended, reason, actor)
    return ended


def _end_session_rows(ids: list[str], *, reason: str, actor=None) -> int:
    """Mark sessions and their refresh rows revoked and record one event per newly ended session."""
    live_ids = list(Session.objects.filter(pk__in=ids, revoked_at__isnull=True).values_list("pk", flat=True))
    ended = Session.objects.filter(pk__in=live_ids, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoke_reason=reason, revoked_by=events.real_user(actor)
    )
    if ended:
        events.record_revocations(live_ids, reason=reason, actor=actor)
    RefreshToken.objects.filter(session_id__in=ids, is_revoked=False).update(is_revoked=True)
    return ended


def _log_ended(ended: int, reason: str, actor) -> None:
    if ended:
        metrics.REVOCATIONS.labels(reason=str(reason)).inc(ended)
        logger.info("sessions revoked count=%d reason=%s actor=%s", ended, reason, getattr(actor, "pk", None))


def end_access_for_users(
    user_ids, *, reason: str, actor=None, keep_session_id: str = "", user_deleted: bool = False
) -> int:
    """Refuse every credential of each user that started until now, on every server, from the next request on.

    Sets each user's cut-off (a row and one Redis key per user, whatever the
    number of sessions): token sessions, cookie-mode sessions, session logins
    and admin logins that started at or before it are refused; the one named
    ``keep_session_id`` (a token session's id, or a session login's) survives.
    The sessions' rows are ended too (for rotation, the device list, the admin).
    ``user_deleted`` keeps the cut-off as a tombstone after the user is gone.
    Redis is written before the commit, as in revoke_sessions. Returns how
    many token sessions were newly ended.
    """
    user_ids = [str(user_id) for user_id in user_ids]
    if not user_ids:
        return 0
    with transaction.atomic():
        cutoffs = _set_cutoffs(user_ids, reason=reason, keep_session_id=keep_session_id, user_deleted=user_deleted)
        ended_ids = list(
            Session.objects.filter(user_id__in=user_ids, revoked_at__isnull=True)
            .exclude(pk=keep_session_id)
            .values_list("pk", flat=True)
        )
        ended = _end_session_rows(ended_ids, reason=reason, actor=actor)
        revocation.write((), cutoffs=cutoffs)
    _log_ended(ended, reason, actor)
    return ended


def _set_cutoffs(user_ids: list[str], *, reason: str, keep_session_id: str, user_deleted: bool) -> list:
    now = timezone.now()
    # Never before a session the user already has: a server whose clock runs ahead made it.
    latest = {
        str(user_id): started
        for user_id, started in Session.objects.filter(user_id__in=user_ids)
        .values("user_id")
        .annotate(latest=Max("created_at"))
        .values_list("user_id", "latest")
    }
    cutoffs = []
    for user_id in user_ids:
        not_before = max(now, latest.get(user_id) or now)
        UserCutoff.objects.update_or_create(
            user_id=user_id,
            defaults={
                "not_before": not_before,
                "keep_session_id": keep_session_id,
                "reason": reason,
                "user_deleted": user_deleted,
            },
        )
        cutoffs.append(lifetimes.Cutoff(user_id, not_before, keep_session_id))
    return cutoffs


def revoke_all_for_user(user, *, reason: str, actor=None, keep: Session | None = None) -> int:
    """End every credential of ``user`` (but the session ``keep``): see end_access_for_users."""
    return end_access_for_users([user.pk], reason=reason, actor=actor, keep_session_id=keep.pk if keep else "")


def revoke_all_for_users(user_ids, *, reason: str, actor=None) -> int:
    """Bulk form of revoke_all_for_user: every credential of each of ``user_ids``."""
    return end_access_for_users(user_ids, reason=reason, actor=actor)


def revoke_all_for_user_id(user_id, *, reason: str, actor=None, keep_session_id: str = "") -> int:
    return end_access_for_users([user_id], reason=reason, actor=actor, keep_session_id=keep_session_id)


def end_access_of_inactive_users() -> int:
    """End the access of inactive users who still have live sessions (a change Django never saw)."""
    from django.contrib.auth import get_user_model

    user_ids = list(
        Session.objects.live()
        .filter(user__in=get_user_model().objects.filter(is_active=False))
        .values_list("user_id", flat=True)
        .distinct()
    )
    return end_access_for_users(user_ids, reason=RevokeReason.DEACTIVATION)


def reauthenticate_session(session_id: str, user_id, *, amr: tuple[str, ...]) -> TokenPair:
    """Step-up: the same session with a fresh ``auth_time``; its live refresh token is superseded.

    The superseded refresh token answers within the grace window like any
    rotated one (with the new pair); access tokens issued before keep their
    old ``auth_time`` and are not "recent".
    """
    now = timezone.now()
    with transaction.atomic():
        claimed = Session.objects.filter(
            pk=session_id, user_id=user_id, revoked_at__isnull=True, expires_at__gt=now
        ).update(last_used_at=now, auth_time=now, amr=" ".join(amr))
        if not claimed:
            raise SessionRevoked()
        session = Session.objects.get(pk=session_id)
        live = RefreshToken.objects.filter(session=session, used_at__isnull=True, is_revoked=False).first()
        won = live is not None and RefreshToken.objects.filter(pk=live.pk, used_at__isnull=True).update(used_at=now)
        row = _new_refresh_row(session, now, replaces=live if won else None)
    return _pair(row, session, now)
