"""Work done by the task queue (``manage.py db_worker``), never inside a request.

Codes are generated here, not in the request: the request only enqueues the
address it was given, so its work and its answer are the same whether or not
an account exists, and no code in clear is ever written to the queue's table
(a task's arguments are stored; the code exists only in the mail).
"""

import logging

from django.conf import settings
from django_tasks import task

from accounts import codes, mail
from accounts.models import User, normalize_email

logger = logging.getLogger("flowauth.mail")


def _link(template: str, token: str) -> str:
    return template.replace("{token}", token) if template else ""


@task()
def send_password_reset(email: str) -> None:
    user = User.objects.filter(email=normalize_email(email), is_active=True).first()
    if user is None:
        return  # nothing to send; the request answered the same
    issued = codes.issue(user, codes.Purpose.PASSWORD_RESET)
    mail.send(
        "password_reset",
        user.email,
        {
            "code": issued.code,
            "token": issued.token,
            "link": _link(settings.FRONTEND_RESET_URL, issued.token),
            "minutes": settings.VERIFICATION_CODE_LIFETIME // 60,
        },
    )
    logger.info("password reset code sent user=%s", user.pk)


@task()
def send_verification(email: str) -> None:
    user = User.objects.filter(email=normalize_email(email), is_active=True, email_verified=False).first()
    if user is None:
        return
    issued = codes.issue(user, codes.Purpose.VERIFY_EMAIL)
    mail.send(
        "verify_email",
        user.email,
        {
            "code": issued.code,
            "token": issued.token,
            "link": _link(settings.FRONTEND_VERIFY_URL, issued.token),
            "minutes": settings.VERIFICATION_CODE_LIFETIME // 60,
        },
    )
    logger.info("verification code sent user=%s", user.pk)


@task()
def send_email_change(user_id: str, new_email: str) -> None:
    """The code to the new address; a notice (without the code) to the current one."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return
    issued = codes.issue(user, codes.Purpose.CHANGE_EMAIL, new_email=new_email)
    mail.send(
        "change_email",
        new_email,
        {
            "code": issued.code,
            "minutes": settings.VERIFICATION_CODE_LIFETIME // 60,
        },
    )
    mail.send("notice_email_change_requested", user.email, {"new_email": new_email})
    logger.info("email change code sent user=%s", user.pk)


@task()
def send_notice(to: str, kind: str, context: dict) -> None:
    """A security notice (accounts/notifications.py); never carries a token or a code."""
    mail.send(f"notice_{kind}", to, context)
