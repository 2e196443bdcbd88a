"""Outbound webhook deliveries (tokens/webhooks.py): one row per event and receiver."""

import secrets

from django.db import models
from django.utils import timezone


def new_delivery_id() -> str:
    return secrets.token_hex(16)


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    id = models.CharField(primary_key=True, max_length=32, default=new_delivery_id, editable=False)
    event_type = models.CharField(max_length=64, db_index=True)
    url = models.CharField(max_length=500)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "tokens"
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event_type} to {self.url} ({self.status})"

    @property
    def message_id(self) -> str:
        """The Standard Webhooks ``webhook-id``: the same on every retry of one delivery."""
        return f"msg_{self.id}"
