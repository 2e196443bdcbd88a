"""One-time codes sent by email: password reset, address verification, address change.

A code is 8 digits (typed on a phone) and comes with a link token (a longer
random string, for a browser); only keyed hashes of both are stored
(HMAC-SHA256 under SECRET_KEY: a database dump alone cannot be searched for
them). A code is single use, valid for VERIFICATION_CODE_LIFETIME seconds,
and dies after VERIFICATION_CODE_MAX_ATTEMPTS wrong tries. Issuing a code
kills the user's earlier codes of the same purpose, so there is at most one
live code per user and purpose, and a wrong try counts against it.

Using a code is one conditional UPDATE (not used, not dead, not expired):
exactly one request wins, whichever server it reaches.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User


class Purpose(models.TextChoices):
    PASSWORD_RESET = "password_reset", "Password reset"
    VERIFY_EMAIL = "verify_email", "Email verification"
    CHANGE_EMAIL = "change_email", "Email change"


def digest(secret: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, secret.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Issued:
    """What a mail carries, in clear, once: never stored, never logged."""

    code: str
    token: str
    row: object  # accounts.models_recovery.VerificationCode


def _new_code() -> str:
    return f"{secrets.randbelow(10**8):08d}"


def issue(user: User, purpose: str, *, new_email: str = "") -> Issued:
    from accounts.models_recovery import VerificationCode

    code, token = _new_code(), secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        VerificationCode.objects.filter(user=user, purpose=purpose).live(now).update(dead=True)
        row = VerificationCode.objects.create(
            user=user,
            purpose=purpose,
            code_hash=digest(code),
            token_hash=digest(token),
            new_email=new_email,
            created_at=now,
            expires_at=now + timedelta(seconds=settings.VERIFICATION_CODE_LIFETIME),
        )
    return Issued(code, token, row)


def check_code(user: User | None, purpose: str, code: str):
    """The live code of ``user`` for ``purpose`` if ``code`` is it, else None (a wrong try is counted).

    The same work (one hash, one SELECT, one UPDATE) is done when there is no
    such user or no live code, so the answer's timing does not tell them apart.
    """
    from accounts.models_recovery import VerificationCode, new_code_id

    presented = digest(code)
    row = (
        VerificationCode.objects.filter(user_id=getattr(user, "pk", None), purpose=purpose)
        .live()
        .order_by("-created_at")
        .first()
    )
    if row is not None and hmac.compare_digest(presented, row.code_hash):
        return row
    VerificationCode.objects.filter(pk=row.pk if row is not None else new_code_id()).update(attempts=F("attempts") + 1)
    return None


def check_token(token: str, purpose: str):
    """The live code whose link token is ``token`` (any user), else None."""
    from accounts.models_recovery import VerificationCode

    return (
        VerificationCode.objects.filter(token_hash=digest(token), purpose=purpose).live().select_related("user").first()
    )


def consume(row) -> bool:
    """Use ``row`` up; False when another request (on any server) did first or it died meanwhile."""
    from accounts.models_recovery import VerificationCode

    return bool(VerificationCode.objects.filter(pk=row.pk).live().update(used_at=timezone.now()))


def kill_all(user: User, *, except_pk=None) -> int:
    """Every outstanding code of ``user`` dies (a password reset ends them all)."""
    from accounts.models_recovery import VerificationCode

    return VerificationCode.objects.filter(user=user).live().exclude(pk=except_pk).update(dead=True)
