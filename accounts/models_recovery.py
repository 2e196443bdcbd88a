"""The stored side of one-time codes (accounts/codes.py): hashes only."""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


def new_code_id() -> str:
    return secrets.token_hex(16)


class VerificationCodeQuerySet(models.QuerySet):
    def live(self, now=None):
        now = now or timezone.now()
        return self.filter(
            used_at__isnull=True,
            dead=False,
            expires_at__gt=now,
            attempts__lt=settings.VERIFICATION_CODE_MAX_ATTEMPTS,
        )


class VerificationCode(models.Model):
    PURPOSES = (
        ("password_reset", "Password reset"),
        ("verify_email", "Email verification"),
        ("change_email", "Email change"),
    )

    id = models.CharField(primary_key=True, max_length=32, default=new_code_id, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="verification_codes")
    purpose = models.CharField(max_length=20, choices=PURPOSES)
    code_hash = models.CharField(max_length=64)
    token_hash = models.CharField(max_length=64, unique=True)
    new_email = models.EmailField(max_length=254, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    dead = models.BooleanField(default=False)

    objects = VerificationCodeQuerySet.as_manager()

    class Meta:
        app_label = "accounts"
        indexes = [models.Index(fields=["user", "purpose"], name="accounts_code_user_purpose")]

    def __str__(self) -> str:
        return f"{self.purpose} code for user {self.user_id}"
