"""Sessions (refresh-token families) and the refresh tokens issued in them.

Token strings are never stored: a row holds the token's ``jti`` and the
claims needed to re-issue it byte for byte (for the rotation grace window).
"""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


def new_token_id() -> str:
    """128 bits from the OS CSPRNG, as 32 hex characters."""
    return secrets.token_hex(16)


class RevokeReason(models.TextChoices):
    LOGOUT = "logout", "Logout"
    LOGOUT_ALL = "logout_all", "Logout from all devices"
    LOGOUT_OTHERS = "logout_others", "Logout from all other devices"
    SESSION_DELETE = "session_delete", "Ended from the device list"
    PASSWORD_CHANGE = "password_change", "Password changed"
    PASSWORD_RESET = "password_reset", "Password reset by email"
    REUSE = "reuse", "Refresh token reuse detected"
    ADMIN = "admin", "Revoked by staff"
    DEACTIVATION = "deactivation", "User deactivated or deleted"
    REVOKE_ENDPOINT = "revoke_endpoint", "Revoked through /revoke"
    MFA_CHANGED = "mfa_changed", "Second factor added or removed"


class SessionQuerySet(models.QuerySet):
    def live(self, now=None):
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True, expires_at__gt=now)


class Session(models.Model):
    id = models.CharField(primary_key=True, max_length=32, default=new_token_id, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="auth_sessions")
    device_name = models.CharField(max_length=100, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True, help_text="Absolute end; rotation cannot pass it.")
    revoked_at = models.DateTimeField(null=True, blank=True, db_index=True)
    revoke_reason = models.CharField(max_length=32, choices=RevokeReason.choices, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # When the user last proved who they are in this session (login, /reauth) and
    # how (RFC 8176 values, space-separated): every access token carries both, and
    # rotation copies them, so refreshing never makes an old authentication recent.
    auth_time = models.DateTimeField(null=True, blank=True)
    amr = models.CharField(max_length=32, blank=True, default="pwd")
    # RFC 7638 thumbprint of the DPoP key the session is bound to (RFC 9449); blank: not bound.
    dpop_jkt = models.CharField("DPoP key thumbprint", max_length=64, blank=True, default="")

    objects = SessionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="tokens_session_user_state")]
        permissions = [("revoke_session", "Can revoke sessions")]

    def __str__(self) -> str:
        return f"{self.device_name or 'session'} {self.id[:8]}"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class UserCutoff(models.Model):
    """Every credential of the user that started at or before ``not_before`` is refused.

    Keycloak's "not-before": one row per user, so ending all of a user's
    sessions costs the same whatever their number. Keyed by the user's id
    rather than a foreign key: when the user is deleted the row stays as a
    tombstone, so a rebuild of the revocation cache can still refuse the
    deleted user's unexpired access tokens. ``keep_session_id`` names the one
    credential that survives (logout from the other devices).
    """

    user_id = models.CharField(max_length=64, unique=True)
    not_before = models.DateTimeField(db_index=True)
    keep_session_id = models.CharField(max_length=32, blank=True)
    reason = models.CharField(max_length=32, choices=RevokeReason.choices)
    user_deleted = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"user {self.user_id} not before {self.not_before.isoformat()}"


class RefreshToken(models.Model):
    jti = models.CharField(max_length=32, unique=True, default=new_token_id, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="refresh_tokens")
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaced_by"
    )
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)
    is_revoked = models.BooleanField(default=False)

    class Meta:
        ordering = ["-issued_at"]

    def __str__(self) -> str:
        return self.jti


class AuthEventKind(models.TextChoices):
    LOGIN_SUCCEEDED = "login_succeeded", "Login succeeded"
    LOGIN_FAILED = "login_failed", "Login failed"
    REUSE_DETECTED = "reuse_detected", "Refresh token reuse detected"
    SESSION_REVOKED = "session_revoked", "Session revoked"
    PASSWORD_CHANGED = "password_changed", "Password changed"
    LOGOUT = "logout", "Logout"
    MFA_ENABLED = "mfa_enabled", "Second factor added"
    MFA_DISABLED = "mfa_disabled", "Second factor removed"
    MFA_RECOVERY_CODES = "mfa_recovery_codes", "Recovery codes regenerated"
    MFA_FAILED = "mfa_failed", "Second factor code refused"
    REAUTHENTICATED = "reauthenticated", "Re-authenticated (step-up)"


class AuthEvent(models.Model):
    """What happened to an account, for staff. Never holds a token or a password."""

    kind = models.CharField(max_length=32, choices=AuthEventKind.choices, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="auth_events"
    )
    # The address the event was about; kept when the user is gone, and for unknown emails.
    email = models.CharField(max_length=254, blank=True, db_index=True)
    session_id = models.CharField(max_length=32, blank=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=32, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.email or self.user_id or ''}".strip()


from tokens.models_webhooks import WebhookDelivery  # noqa: E402,F401  (outbound webhooks: tokens/webhooks.py)
