"""Second factors: TOTP and recovery codes on django-otp's devices, and the second step of a login.

- A TOTP factor is django-otp's ``TOTPDevice`` (RFC 6238: SHA-1, 6 digits,
  30 s, one step of skew either way). It is pending (``confirmed=False``)
  until a first code proves the authenticator app has the secret.
- Recovery codes are one ``StaticDevice`` with 10 ``StaticToken`` rows. The
  rows hold an HMAC of the code (keyed from SECRET_KEY), never the code.
- A code is verified under the device row's write lock: a code is accepted
  once even when two servers check it at the same moment (django-otp's
  ``last_t`` moves past its step; a recovery row is deleted, and only the
  request whose DELETE removed it wins).
- The second step of a login is an ``mfa_token``: 256 random bits, kept in
  Redis (hashed) for MFA_TOKEN_LIFETIME seconds with the user, the client
  (IP, User-Agent) and the door it came through (API, session, admin); it
  dies after MFA_TOKEN_MAX_TRIES codes, counted with one atomic INCR.

Adding or removing a factor ends every other credential of the user (the
per-user cut-off, keeping the session that asked) and records an event.
"""

import hashlib
import hmac
import logging
import re
import secrets
from base64 import b32encode

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import notifications
from accounts.models import User
from flowauth.errors import InvalidCode
from tokens import events, jwt, selectors
from tokens.models import RevokeReason
from tokens.services import revoke_all_for_user_id, session_start_after_cutoff

logger = logging.getLogger("flowauth.auth")

RECOVERY_CODE_COUNT = 10
FACTOR_NAME = "totp"
RECOVERY_NAME = "recovery"
_TOTP_CODE = re.compile(r"\A[0-9]{6}\Z")  # ASCII digits only: int() would take "٣" or " 1_2"
_RECOVERY_CODE = re.compile(r"\A[a-z2-7]{16}\Z")
MFA_TOKEN_PREFIX = "mfa:pending:"
MFA_TRIES_PREFIX = "mfa:tries:"

# The doors a login can come through; an mfa_token only finishes the one it started at.
API, SESSION, ADMIN = "api", "session", "admin"


# Devices ------------------------------------------------------------------


def has_factor(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def factor_users(user_ids) -> set:
    """Which of ``user_ids`` have a confirmed factor (one query, for the admin's list)."""
    return set(TOTPDevice.objects.filter(user_id__in=user_ids, confirmed=True).values_list("user_id", flat=True))


def secret_of(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it: base32, unpadded."""
    return b32encode(device.bin_key).decode().rstrip("=")


def start_enrolment(user: User) -> TOTPDevice:
    """A new pending TOTP device (any earlier pending one is dropped); a confirmed factor stays until replaced."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name=FACTOR_NAME, confirmed=False)
    logger.info("second factor enrolment started user=%s", user.pk)
    return device


def pending_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()


def qr_svg(device: TOTPDevice) -> str:
    import segno

    return segno.make(device.config_url, error="m").svg_inline(scale=4, omitsize=False)


def confirm_enrolment(user: User, code, *, keep_session_id: str, client_ip: str | None = None) -> list[str]:
    """Activate the pending device with its first code; returns the new recovery codes (shown once).

    Every other credential of the user ends; the session that confirmed stays.
    """
    device = pending_device(user)
    if device is None or not _verify_totp(device.pk, code):
        raise InvalidCode()
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
        codes = _new_recovery_codes(user)
        revoke_all_for_user_id(user.pk, reason=RevokeReason.MFA_CHANGED, actor=user, keep_session_id=keep_session_id)
        events.record(
            events.Kind.MFA_ENABLED,
            user=user,
            actor=user,
            session_id=keep_session_id,
            ip_address=client_ip,
            details={"factor": "totp"},
        )
    logger.info("second factor added user=%s", user.pk)
    notifications.second_factor_changed(user, added=True)
    return codes


def regenerate_recovery_codes(user: User, *, session_id: str = "", client_ip: str | None = None) -> list[str] | None:
    """A new set of recovery codes (the old ones die); None when the user has no factor."""
    with transaction.atomic():
        # An UPDATE takes the device row's write lock on every backend: regenerations run one at a time.
        if not TOTPDevice.objects.filter(user=user, confirmed=True).update(throttling_failure_count=0):
            return None
        codes = _new_recovery_codes(user)
        events.record(
            events.Kind.MFA_RECOVERY_CODES, user=user, actor=user, session_id=session_id, ip_address=client_ip
        )
    return codes


def remove_factor(user: User, *, actor=None, keep_session_id: str = "", client_ip: str | None = None) -> bool:
    """Remove the TOTP factor and its recovery codes; returns whether there was one.

    Every credential of the user ends but ``keep_session_id`` (the user's own
    session when they remove it themselves; none when staff do).
    """
    with transaction.atomic():
        had = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        if had:
            revoke_all_for_user_id(
                user.pk, reason=RevokeReason.MFA_CHANGED, actor=actor or user, keep_session_id=keep_session_id
            )
            events.record(
                events.Kind.MFA_DISABLED,
                user=user,
                actor=actor or user,
                session_id=keep_session_id,
                ip_address=client_ip,
                reason="staff" if actor is not None and actor != user else "self",
                details={"factor": "totp"},
            )
    if had:
        notifications.second_factor_changed(user, added=False)
        logger.info("second factor removed user=%s actor=%s", user.pk, getattr(actor, "pk", None))
    return had


def _recovery_hash(code: str) -> str:
    key = hashlib.sha256(b"flowauth-recovery-code:" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()[:16]  # StaticToken.token holds 16


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [b32encode(secrets.token_bytes(10)).decode().lower() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=_recovery_hash(code)) for code in codes])
    return [f"{code[:4]}-{code[4:8]}-{code[8:12]}-{code[12:]}" for code in codes]


# Verifying codes ------------------------------------------------------------


def _verify_totp(device_pk: int, code) -> bool:
    if not isinstance(code, str) or not _TOTP_CODE.match(code):
        return False
    with transaction.atomic():
        # The row's write lock first (every backend): a concurrent check of the same code waits, then sees last_t.
        TOTPDevice.objects.filter(pk=device_pk).update(throttling_failure_count=0)
        device = TOTPDevice.objects.filter(pk=device_pk).first()
        return device is not None and device.verify_token(code)


def _use_recovery_code(user: User, code: str) -> bool:
    normal = code.replace("-", "").replace(" ", "").lower()
    if not _RECOVERY_CODE.match(normal):
        return False
    deleted, _ = StaticToken.objects.filter(
        device__user=user, device__confirmed=True, token=_recovery_hash(normal)
    ).delete()
    return deleted > 0


def verify_code(user: User, code) -> str | None:
    """The method a right code proves ("otp"), or None: a TOTP code once, a recovery code once."""
    if not isinstance(code, str):
        return None
    device = TOTPDevice.objects.filter(user=user, confirmed=True).only("pk").first()
    if device is None:
        return None
    if _verify_totp(device.pk, code):
        return "otp"
    if len(code) <= 32 and _use_recovery_code(user, code):
        logger.info("recovery code used user=%s", user.pk)
        return "otp"
    return None


# The second step of a login ---------------------------------------------------


def _token_key(mfa_token: str) -> str:
    return hashlib.sha256(mfa_token.encode("utf-8", "surrogatepass")).hexdigest()


def start_second_step(
    user: User, *, door: str, ip: str | None, user_agent: str, device_name: str = "", account: str = ""
) -> str:
    """An mfa_token for ``user``'s second step at ``door``, bound to this client."""
    mfa_token = secrets.token_urlsafe(32)
    cache.set(
        MFA_TOKEN_PREFIX + _token_key(mfa_token),
        {
            "user_id": str(user.pk),
            "door": door,
            "ip": ip or "",
            "ua": user_agent[:400],
            "device_name": device_name[:100],
            "account": account,
            # As a session's start: never at or before the user's cut-off, so only a later one ends it.
            "started": jwt.epoch_micros(session_start_after_cutoff(user.pk, timezone.now())),
        },
        timeout=settings.MFA_TOKEN_LIFETIME,
    )
    return mfa_token


def pending_step(mfa_token, *, door: str) -> dict | None:
    """The live second step an mfa_token names at ``door`` (None: unknown, expired, used, other door)."""
    if not isinstance(mfa_token, str) or not 20 <= len(mfa_token) <= 64:
        return None
    pending = cache.get(MFA_TOKEN_PREFIX + _token_key(mfa_token))
    if not isinstance(pending, dict) or pending.get("door") != door:
        return None
    # Redis' TTL ends it; the recorded start too (a server's clock, not only Redis', bounds its life).
    age = jwt.epoch_micros(timezone.now()) - pending.get("started", 0)
    if age > settings.MFA_TOKEN_LIFETIME * 1_000_000:
        return None
    return pending


def finish_second_step(mfa_token: str, pending: dict, code, *, ip: str | None, user_agent: str) -> tuple[User, tuple]:
    """Check the code for a pending step; returns (user, amr). Raises InvalidCode, one answer for every reason.

    Each call is one of the token's tries, counted before the code is looked
    at; the last try, right or wrong, and a right code end the token.
    """
    key = _token_key(mfa_token)
    tries_key = MFA_TRIES_PREFIX + key
    cache.add(tries_key, 0, timeout=settings.MFA_TOKEN_LIFETIME)
    try:
        tries = cache.incr(tries_key)
    except ValueError:  # expired between add and incr: so did the token
        raise InvalidCode() from None
    if tries > settings.MFA_TOKEN_MAX_TRIES:
        cache.delete(MFA_TOKEN_PREFIX + key)
        raise InvalidCode()
    user = User.objects.filter(pk=pending["user_id"], is_active=True).first()
    if user is None or _ended_since(user, pending) or pending["ip"] != (ip or "") or pending["ua"] != user_agent[:400]:
        cache.delete(MFA_TOKEN_PREFIX + key)
        raise InvalidCode()
    method = verify_code(user, code)
    if method is None:
        events.record(events.Kind.MFA_FAILED, user=user, ip_address=ip or None, user_agent=user_agent)
        if tries >= settings.MFA_TOKEN_MAX_TRIES:
            cache.delete(MFA_TOKEN_PREFIX + key)
        raise InvalidCode()
    if not cache.delete(MFA_TOKEN_PREFIX + key):  # a concurrent request finished it first
        raise InvalidCode()
    return user, ("pwd", method)


def _ended_since(user: User, pending: dict) -> bool:
    """The user's access was ended (password reset, staff) after the first step: the step dies too."""
    cutoff = selectors.cutoff_for(user.pk)
    return cutoff is not None and pending.get("started", 0) <= jwt.epoch_micros(cutoff.not_before)
