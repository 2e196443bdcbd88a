"""The auth event log: one INSERT per event, written by the services.

Never called on the per-request authentication path. ``details`` is for
small, non-secret facts (counts, a device name): never a token or a password.
"""

import logging

from django.dispatch import Signal

from tokens.models import AuthEvent, AuthEventKind, Session

logger = logging.getLogger("flowauth.auth")

Kind = AuthEventKind

# Sent when a refresh token came back after rotation (the session ended as stolen); accounts sends the notice.
reuse_detected = Signal()


def record(
    kind: str,
    *,
    user=None,
    email: str = "",
    session_id: str = "",
    actor=None,
    reason: str = "",
    ip_address: str | None = None,
    user_agent: str = "",
    details: dict | None = None,
) -> AuthEvent:
    """Write one event row."""
    return AuthEvent.objects.create(
        kind=kind,
        user=user,
        email=email or getattr(user, "email", ""),
        session_id=session_id or "",
        actor=real_user(actor),
        reason=reason,
        ip_address=ip_address,
        user_agent=user_agent[:400],
        details=details or {},
    )


def record_revocations(session_ids: list[str], *, reason: str, actor=None) -> None:
    """One ``session_revoked`` event per ended session, in a single bulk INSERT."""
    rows = Session.objects.filter(pk__in=session_ids).values_list("pk", "user_id", "user__email")
    actor = real_user(actor)
    kind = Kind.LOGOUT if reason in ("logout", "logout_all") else Kind.SESSION_REVOKED
    AuthEvent.objects.bulk_create(
        [
            AuthEvent(kind=kind, user_id=user_id, email=email, session_id=pk, actor=actor, reason=reason)
            for pk, user_id, email in rows
        ]
    )
    if reason == "admin":  # staff revocations go to the webhook receivers (tokens/webhooks.py)
        from tokens import webhooks

        by_user: dict[str, list[str]] = {}
        for pk, user_id, _email in rows:
            by_user.setdefault(str(user_id), []).append(pk)
        for user_id, ids in by_user.items():
            webhooks.emit(
                "sessions.revoked_by_staff",
                {"user_id": user_id, "session_ids": ids, "actor_id": str(actor.pk) if actor else None},
            )


def real_user(actor):
    # Only a saved user can be the actor; the stateless token user is not a row.
    from django.contrib.auth import get_user_model

    return actor if isinstance(actor, get_user_model()) and actor.pk else None
