"""Account workflows. Views and admin call these; they hold no HTTP details."""

import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from accounts import mfa, notifications, profile_cache
from accounts.models import User, normalize_email
from flowauth import metrics
from flowauth.errors import EmailTaken, EmailUnverified, InvalidCredentials, MfaRequired
from tokens import events
from tokens.models import RevokeReason, Session
from tokens.services import ClientInfo, TokenPair, issue_session, revoke_all_for_user

logger = logging.getLogger("flowauth.auth")


def register_user(*, email: str, password: str, username: str = "") -> User:
    """Create an account; raises EmailTaken for an email already registered (any case)."""
    email = normalize_email(email)
    if User.objects.filter(email=email).exists():
        raise EmailTaken()
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password, username=username)
    except IntegrityError as exc:  # a concurrent registration won the race
        raise EmailTaken() from exc
    logger.info("user registered user=%s", user.pk)
    from accounts import recovery  # a verification code to the new address (docs/recovery.md)

    recovery.request_verification(user.email)
    return user


def authenticate_user(*, request, email: str, password: str) -> User:
    """Verify credentials. Unknown email, wrong password and inactive user are one answer.

    Django's ModelBackend runs the hasher for unknown emails too, so the
    answers take comparable time; a legacy hash is upgraded on success.
    """
    user = authenticate(request, username=normalize_email(email), password=password)
    if user is None:
        logger.info("login failed ip=%s", request.META.get("REMOTE_ADDR"))
        metrics.LOGINS.labels(outcome="failure").inc()
        events.record(
            events.Kind.LOGIN_FAILED,
            email=normalize_email(email)[:254],
            ip_address=request.META.get("REMOTE_ADDR") or None,
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        raise InvalidCredentials()
    metrics.LOGINS.labels(outcome="success").inc()
    if settings.REQUIRE_VERIFIED_EMAIL and not user.email_verified:
        raise EmailUnverified()  # after the password: says nothing about an address to a guesser
    return user


def log_in_user(*, request, email: str, password: str, client: ClientInfo) -> tuple[User, TokenPair]:
    """Verify credentials and start a session; both outcomes are logged as auth events.

    A user with a second factor gets no session yet: MfaRequired carries the
    mfa_token for the second step (accounts/mfa.py), bound to this client.
    """
    user = authenticate_user(request=request, email=email, password=password)
    if mfa.has_factor(user):
        raise MfaRequired(
            mfa.start_second_step(
                user,
                door=mfa.API,
                ip=client.ip_address,
                user_agent=client.user_agent,
                device_name=client.device_name,
            )
        )
    return user, start_login_session(user, client=client)


def start_login_session(user: User, *, client: ClientInfo, amr: tuple[str, ...] = ("pwd",)) -> TokenPair:
    """The session a finished login starts, recorded as ``login_succeeded``; a device not seen before is told."""
    seen = Session.objects.filter(
        user=user, user_agent=client.user_agent[:400], device_name=client.device_name[:100]
    ).exists()
    pair = issue_session(user, client=client, amr=amr)
    if not seen:
        notifications.new_device_login(user, client=client)
    events.record(
        events.Kind.LOGIN_SUCCEEDED,
        user=user,
        session_id=pair.session.id,
        ip_address=client.ip_address,
        user_agent=client.user_agent,
        details={"device_name": client.device_name} if client.device_name else None,
    )
    return pair


def update_profile(*, user: User, data: dict) -> User:
    """Save profile fields; 503 with nothing written when the profile cache cannot be invalidated."""
    profile_cache.invalidate(user.pk)
    for field, value in data.items():
        setattr(user, field, value)
    user.save(update_fields=list(data))
    profile_cache.invalidate_after_write(user.pk)
    return user


def change_password(*, user: User, new_password: str, current_session_id: str, client: ClientInfo) -> TokenPair:
    """Set a new password and end every session of ``user``, this device's too.

    This device continues on a new session (same device name): the access
    token used for the change is refused from the next request on, like any
    other token issued under the old password. One transaction; Redis is
    written before it commits (see revoke_sessions), so a failure leaves the
    old password and every session as they were.
    """
    current = Session.objects.filter(pk=current_session_id, user=user).first()
    device_name = current.device_name if current else client.device_name
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        # The cut-off ends every credential, this one too; the new session starts after it.
        revoke_all_for_user(user, reason=RevokeReason.PASSWORD_CHANGE, actor=user)
        pair = issue_session(
            user, client=ClientInfo(device_name, client.user_agent, client.ip_address, client.dpop_jkt)
        )
        events.record(
            events.Kind.PASSWORD_CHANGED,
            user=user,
            actor=user,
            session_id=pair.session.id,
            reason="self",
            ip_address=client.ip_address,
            user_agent=client.user_agent,
        )
        notifications.password_changed(user, client=client)
    profile_cache.invalidate_after_write(user.pk)  # committed: a Redis failure now must not read as "not changed"
    logger.info("password changed user=%s", user.pk)
    return pair


def set_avatar(*, user: User, data: bytes, extension: str) -> User:
    """Store checked image bytes as the avatar; the previous file is deleted once replaced.

    As a profile update: 503 with nothing stored when the profile cache cannot be invalidated.
    """
    profile_cache.invalidate(user.pk)
    old_name = user.avatar.name if user.avatar else ""
    user.avatar.save(f"avatar.{extension}", ContentFile(data), save=False)
    user.save(update_fields=["avatar"])
    if old_name and old_name != user.avatar.name:
        user.avatar.storage.delete(old_name)
    profile_cache.invalidate_after_write(user.pk)
    return user


def set_password_by_staff(*, save: Callable[[], User], actor) -> User:
    """Staff set a user's password (the admin's form, whose ``save`` is passed in): every session of the user ends.

    The password, the cut-off and the event land in one transaction.
    """
    with transaction.atomic():
        user = save()
        revoke_all_for_user(user, reason=RevokeReason.PASSWORD_CHANGE, actor=actor)
        events.record(events.Kind.PASSWORD_CHANGED, user=user, actor=actor, reason="admin")
    profile_cache.invalidate_after_write(user.pk)
    return user
