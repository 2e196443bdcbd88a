"""Password reset, email verification and email change (docs/recovery.md).

Requests only enqueue (accounts/tasks.py): mail never goes out inside a
request, and an unknown address costs the request the same work as a known
one. Confirmations check the code (accounts/codes.py), then use it up with
one conditional UPDATE inside the transaction that applies the change, so a
code works once whichever server it reaches, and a failure (Redis down at
the cut-off) leaves it unused.
"""

import logging

from django.db import IntegrityError, transaction
from rest_framework import serializers

from accounts import codes, notifications, profile_cache
from accounts.models import User
from accounts.recovery_serializers import password_errors
from flowauth.errors import EmailTaken, InvalidCode
from tokens import events
from tokens.models import RevokeReason
from tokens.services import ClientInfo, TokenPair, issue_session, revoke_all_for_user

logger = logging.getLogger("flowauth.auth")


def request_password_reset(email: str) -> None:
    from accounts.tasks import send_password_reset

    send_password_reset.enqueue(email)


def request_verification(email: str) -> None:
    from accounts.tasks import send_verification

    send_verification.enqueue(email)


def _find(purpose: str, *, email: str | None, code: str | None, token: str | None):
    """The live code presented, or InvalidCode (the same for every reason)."""
    if token is not None:
        row = codes.check_token(token, purpose)
    else:
        user = User.objects.filter(email=email, is_active=True).first()
        row = codes.check_code(user, purpose, code)
    if row is None or not row.user.is_active:
        raise InvalidCode()
    return row


def confirm_password_reset(
    *, email=None, code=None, token=None, new_password: str, client: ClientInfo
) -> tuple[User, TokenPair]:
    """Set the new password; every credential of the user ends; this device gets a fresh session."""
    row = _find(codes.Purpose.PASSWORD_RESET, email=email, code=code, token=token)
    user = row.user
    errors = password_errors(new_password, user)
    if errors:  # the code is not used up: the user can try another password
        raise serializers.ValidationError({"new_password": errors})
    with transaction.atomic():
        if not codes.consume(row):
            raise InvalidCode()
        user.set_password(new_password)
        user.email_verified = True  # the code came through the mailbox
        user.save(update_fields=["password", "email_verified"])
        codes.kill_all(user)
        revoke_all_for_user(user, reason=RevokeReason.PASSWORD_RESET)
        pair = issue_session(user, client=client)
        events.record(
            events.Kind.PASSWORD_CHANGED,
            user=user,
            session_id=pair.session.id,
            reason="reset",
            ip_address=client.ip_address,
            user_agent=client.user_agent,
        )
        notifications.password_reset(user, client=client)
    profile_cache.invalidate_after_write(user.pk)
    logger.info("password reset user=%s", user.pk)
    return user, pair


def verify_email(*, email=None, code=None, token=None) -> User:
    row = _find(codes.Purpose.VERIFY_EMAIL, email=email, code=code, token=token)
    user = row.user
    with transaction.atomic():
        if not codes.consume(row):
            raise InvalidCode()
        User.objects.filter(pk=user.pk).update(email_verified=True)
    user.email_verified = True
    profile_cache.invalidate_after_write(user.pk)
    logger.info("email verified user=%s", user.pk)
    return user


def request_email_change(user: User, new_email: str) -> None:
    """A code to ``new_email`` and a notice to the current address; 409 when the address has an account."""
    from accounts.tasks import send_email_change

    if User.objects.filter(email=new_email).exists():
        raise EmailTaken()
    send_email_change.enqueue(str(user.pk), new_email)


def confirm_email_change(user: User, code: str, *, client: ClientInfo) -> User:
    row = codes.check_code(user, codes.Purpose.CHANGE_EMAIL, code)
    if row is None:
        raise InvalidCode()
    if User.objects.filter(email=row.new_email).exclude(pk=user.pk).exists():
        raise EmailTaken()  # taken since the request: checked again here
    old_email = user.email
    profile_cache.invalidate(user.pk)
    try:
        with transaction.atomic():
            if not codes.consume(row):
                raise InvalidCode()
            user.email, user.email_verified = row.new_email, True
            user.save(update_fields=["email", "email_verified"])
            notifications.email_changed(user, old_email=old_email, client=client)
    except IntegrityError as exc:  # a registration took the address meanwhile
        raise EmailTaken() from exc
    profile_cache.invalidate_after_write(user.pk)
    logger.info("email changed user=%s", user.pk)
    return user
