"""Outbound webhooks: a real local HTTP receiver, the signature checked with standardwebhooks' own verifier."""

import base64
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from tests.helpers import PASSWORD, login
from tests.recovery_helpers import run_worker
from tests.servers import free_port
from tokens.models import Session
from tokens.models_webhooks import WebhookDelivery

pytestmark = pytest.mark.django_db

SECRET = "whsec_" + base64.b64encode(b"a test-only webhook signing key!").decode()


class Receiver:
    """Answers with the next status of ``statuses`` (then 200), keeping every request."""

    def __init__(self, statuses=()):
        self.statuses, self.requests = list(statuses), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    receivers = []

    def start(statuses=()):
        receiver = Receiver(statuses)
        receivers.append(receiver)
        settings.WEBHOOK_URLS, settings.WEBHOOK_SECRET = [receiver.url], SECRET
        return receiver

    yield start
    for receiver in receivers:
        receiver.close()


def test_an_event_is_delivered_signed_and_recorded(api, user, receiver):
    hook = receiver()
    api.post("/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json", HTTP_USER_AGENT="Tablet/3")
    assert hook.requests == []  # nothing in the request
    run_worker()
    headers, body = hook.requests[0]
    payload = Webhook(SECRET).verify(body, headers)
    assert payload["type"] == "user.new_device_login" and payload["data"]["user_id"] == str(user.pk)
    assert payload["data"]["device"] == "Tablet/3"
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"some other key entirely, 32 b!!").decode()).verify(body, headers)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert headers["webhook-id"] == delivery.message_id


def test_a_failing_receiver_gets_retries_with_exponential_backoff(api, user, receiver, settings):
    settings.WEBHOOK_RETRY_BASE = 10
    hook = receiver(statuses=[500, 503])
    login(api, user.email)
    run_worker()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    first_wait = delivery.next_attempt_at - timezone.now()
    assert timedelta(seconds=9) < first_wait <= timedelta(seconds=10)
    assert run_worker() == 0  # not before its time
    with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1)):
        run_worker()
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 2, 503)
        second_wait = delivery.next_attempt_at - timezone.now()
        assert timedelta(seconds=19) < second_wait <= timedelta(seconds=20)
    with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1)):
        run_worker()
        Webhook(SECRET).verify(hook.requests[-1][1], hook.requests[-1][0])  # signed at its own attempt's time
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    ids = {headers["webhook-id"] for headers, _ in hook.requests}
    assert len(hook.requests) == 3 and ids == {delivery.message_id}


def test_a_dead_receiver_ends_failed_after_the_last_attempt(api, user, settings):
    settings.WEBHOOK_URLS, settings.WEBHOOK_SECRET = [f"http://127.0.0.1:{free_port()}/gone"], SECRET
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    response = api.post("/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 200
    assert WebhookDelivery.objects.get().attempts == 0  # the request never waited on it
    at = timezone.now()
    for _ in range(3):
        with time_machine.travel(at):
            run_worker()
        at += timedelta(hours=1)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 3) and delivery.last_error


def test_staff_revocation_is_an_event(admin_client, api, user, receiver):
    hook = receiver()
    login(api, user.email)
    run_worker()
    hook.requests.clear()
    response = admin_client.post(
        "/admin/accounts/user/", {"action": "revoke_all_sessions", "_selected_action": [user.pk]}
    )
    assert response.status_code == 302
    run_worker()
    payloads = [json.loads(body) for _, body in hook.requests]
    staff = [p for p in payloads if p["type"] == "sessions.revoked_by_staff"]
    assert staff and staff[0]["data"]["user_id"] == str(user.pk)
    assert set(staff[0]["data"]["session_ids"]) == set(Session.objects.filter(user=user).values_list("pk", flat=True))


def test_no_payload_carries_a_token_or_code(api, user, receiver, settings):
    hook = receiver()
    tokens = login(api, user.email)
    run_worker()
    for _, body in hook.requests:
        assert tokens["access"] not in body.decode() and tokens["refresh"] not in body.decode()


def test_deliveries_are_read_only_in_the_admin(admin_client, api, user, receiver):
    receiver()
    login(api, user.email)
    run_worker()
    delivery = WebhookDelivery.objects.get()
    listing = admin_client.get("/admin/tokens/webhookdelivery/")
    assert listing.status_code == 200 and b"user.new_device_login" in listing.content
    page = admin_client.get(f"/admin/tokens/webhookdelivery/{delivery.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert admin_client.get("/admin/tokens/webhookdelivery/add/").status_code == 403
