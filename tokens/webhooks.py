"""Outbound webhooks, signed as the Standard Webhooks specification says.

``emit(event_type, data)`` records one delivery per WEBHOOK_URLS entry and
enqueues it (the task queue, never the request). The worker POSTs
``{"type", "timestamp", "data"}`` with the ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature`` headers (HMAC-SHA256 under
WEBHOOK_SECRET, computed by the ``standardwebhooks`` package). A receiver
that does not answer 2xx is tried again after WEBHOOK_RETRY_BASE * 2**n
seconds, up to WEBHOOK_MAX_ATTEMPTS attempts, then the delivery is marked
failed. Payloads name users by id and never carry a token, a code or a password.
"""

import json
import logging
import urllib.error
import urllib.request
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import task
from standardwebhooks import Webhook

from tokens.models_webhooks import WebhookDelivery

logger = logging.getLogger("flowauth.webhooks")


def emit(event_type: str, data: dict) -> list[WebhookDelivery]:
    urls = list(getattr(settings, "WEBHOOK_URLS", []) or [])
    if not urls or not getattr(settings, "WEBHOOK_SECRET", ""):
        return []
    payload = {"type": event_type, "timestamp": timezone.now().isoformat(), "data": data}
    deliveries = [WebhookDelivery.objects.create(event_type=event_type, url=url, payload=payload) for url in urls]
    for delivery in deliveries:
        deliver.enqueue(str(delivery.pk))
    return deliveries


def backoff(attempts: int) -> timedelta:
    """The wait before attempt ``attempts + 1``: exponential, from WEBHOOK_RETRY_BASE seconds."""
    return timedelta(seconds=settings.WEBHOOK_RETRY_BASE * 2 ** (attempts - 1))


def signed_request(delivery: WebhookDelivery) -> urllib.request.Request:
    body = json.dumps(delivery.payload, separators=(",", ":"))
    now = timezone.now()
    signature = Webhook(settings.WEBHOOK_SECRET).sign(delivery.message_id, now, body)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "FlowAuth-Webhooks",
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    return urllib.request.Request(delivery.url, data=body.encode(), headers=headers, method="POST")


@task()
def deliver(delivery_id: str) -> None:
    delivery = WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING).first()
    if delivery is None:
        return
    delivery.attempts += 1
    status_code, error = None, ""
    try:
        with urllib.request.urlopen(signed_request(delivery), timeout=settings.WEBHOOK_TIMEOUT) as response:
            status_code = response.status
    except urllib.error.HTTPError as exc:
        status_code, error = exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        error = type(exc).__name__
    delivery.last_status_code, delivery.last_error = status_code, error[:200]
    if status_code is not None and 200 <= status_code < 300:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
            WebhookDelivery.Status.DELIVERED,
            timezone.now(),
            None,
        )
    elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
        logger.warning(
            "webhook failed event=%s delivery=%s attempts=%d", delivery.event_type, delivery.pk, delivery.attempts
        )
    else:
        delivery.next_attempt_at = timezone.now() + backoff(delivery.attempts)
        deliver.using(run_after=delivery.next_attempt_at).enqueue(str(delivery.pk))
    delivery.save()
