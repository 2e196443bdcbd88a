"""Account workflows. Views and admin call these; they hold no HTTP details."""

import logging

from django.contrib.auth import authenticate
from django.db import IntegrityError, transaction

from accounts.models import User, normalize_email
from flowauth import metrics
from tokens.exceptions import EmailTaken, InvalidCredentials

logger = logging.getLogger("flowauth.auth")


def user_register(*, email: str, password: str, username: str = "") -> User:
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
    return user


def user_authenticate(*, request, email: str, password: str) -> User:
    """Verify credentials. Unknown email, wrong password and inactive user are one answer.

    Django's ModelBackend runs the hasher for unknown emails too, so the
    answers take comparable time; a legacy hash is upgraded on success.
    """
    user = authenticate(request, username=normalize_email(email), password=password)
    if user is None:
        logger.info("login failed ip=%s", request.META.get("REMOTE_ADDR"))
        metrics.LOGINS.labels(outcome="failure").inc()
        raise InvalidCredentials()
    metrics.LOGINS.labels(outcome="success").inc()
    return user


def user_update_profile(*, user: User, data: dict) -> User:
    for field, value in data.items():
        setattr(user, field, value)
    user.save(update_fields=list(data))
    return user
