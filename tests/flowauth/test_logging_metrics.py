"""Logs carry auth events and never a token or a password; /metrics counts
what happened, for the clients allowed to read it, across gunicorn workers."""

import json
import logging
import re

import httpx
import pytest
from prometheus_client import REGISTRY

from flowauth.logformat import JSONFormatter, RedactTokens
from tests import servers
from tests.helpers import PASSWORD, bearer, make_user

pytestmark = pytest.mark.django_db


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(JSONFormatter())

    def emit(self, record):
        # Both the raw message and the formatted line: the test must not lean on redaction.
        self.lines.append(record.getMessage())
        self.lines.append(self.format(record))


@pytest.fixture
def captured_logs():
    handler = _Capture()
    loggers = [logging.getLogger(name) for name in ("", "flowauth", "django", "django.request", "django.server")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield handler.lines
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_a_whole_auth_flow_logs_no_token_and_no_password(api, captured_logs, token_settings):
    token_settings(REFRESH_GRACE_SECONDS=0)
    secret = "Another very-secret passphrase 42"
    registered = api.post("/api/auth/register", {"email": "log@example.com", "password": secret}, format="json").json()
    api.post("/api/auth/login", {"email": "log@example.com", "password": "wrong " + secret}, format="json")
    tokens = api.post("/api/auth/login", {"email": "log@example.com", "password": secret}, format="json").json()
    api.get("/api/auth/whoami", **bearer(tokens["access"]))
    api.get(f"/api/auth/whoami?access_token={tokens['access']}")
    rotated = api.post("/api/auth/refresh", {"refresh": tokens["refresh"]}, format="json").json()
    reuse = api.post("/api/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert reuse.json()["code"] == "refresh_reused"
    api.get("/api/auth/whoami", **bearer(rotated["access"]))
    api.post("/api/auth/logout", **bearer(registered["access"]))
    api.post("/api/auth/logout-all", **bearer(registered["access"]))
    api.post("/api/auth/refresh", {"refresh": "eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ.c2ln"}, format="json")

    text = "\n".join(captured_logs)
    assert "refresh reuse detected" in text and "login failed" in text  # the events are there
    secrets = [
        secret,
        registered["access"],
        registered["refresh"],
        tokens["access"],
        tokens["refresh"],
        rotated["access"],
        rotated["refresh"],
        "eyJ",
    ]
    for value in secrets:
        assert value not in text, value[:12]
    for value in (tokens["access"], tokens["refresh"], rotated["refresh"]):
        for segment in value.split("."):
            assert segment not in text


def test_json_lines_carry_the_event_and_redact_anything_token_shaped():
    record = logging.makeLogRecord(
        {
            "name": "flowauth.auth",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": "header was %s",
            "args": ("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc_DEF-123",),
        }
    )
    RedactTokens().filter(record)
    line = JSONFormatter().format(record)
    entry = json.loads(line)
    assert entry["level"] == "INFO" and entry["logger"] == "flowauth.auth"
    assert entry["message"] == "header was Bearer [redacted-token]"
    assert re.match(r"\d{4}-\d\d-\d\dT", entry["time"])


def test_production_logs_are_json_by_default(settings):
    assert settings.LOG_FORMAT == "json"  # the suite runs with DEBUG off
    assert settings.LOGGING["handlers"]["console"]["formatter"] == "json"


def _sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_counters_follow_logins_refreshes_reuse_revocations_and_redis_failures(api, user, token_settings):
    token_settings(REFRESH_GRACE_SECONDS=0)
    before = {
        "ok": _sample("flowauth_logins_total", outcome="success"),
        "bad": _sample("flowauth_logins_total", outcome="failure"),
        "refresh": _sample("flowauth_refreshes_total", outcome="success"),
        "reuse": _sample("flowauth_refresh_reuse_total"),
        "revoked": _sample("flowauth_sessions_revoked_total", reason="reuse"),
        "redis": _sample("flowauth_redis_failures_total", component="revocation"),
    }
    api.post("/api/auth/login", {"email": user.email, "password": "nope"}, format="json")
    tokens = api.post("/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json").json()
    api.post("/api/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    api.post("/api/auth/refresh", {"refresh": tokens["refresh"]}, format="json")
    token_settings(REDIS_URL="redis://127.0.0.1:1/0", REDIS_SOCKET_TIMEOUT=0.5)
    assert api.get("/api/auth/whoami", **bearer(tokens["access"])).status_code == 503
    assert _sample("flowauth_logins_total", outcome="success") == before["ok"] + 1
    assert _sample("flowauth_logins_total", outcome="failure") == before["bad"] + 1
    assert _sample("flowauth_refreshes_total", outcome="success") == before["refresh"] + 1
    assert _sample("flowauth_refresh_reuse_total") == before["reuse"] + 1
    assert _sample("flowauth_sessions_revoked_total", reason="reuse") == before["revoked"] + 1
    assert _sample("flowauth_redis_failures_total", component="revocation") == before["redis"] + 1
    assert _sample("flowauth_request_duration_seconds_count", view="whoami", status="5xx") >= 1


def test_metrics_are_served_to_loopback_only_without_a_token(api):
    response = api.get("/metrics")
    assert response.status_code == 200
    assert b"flowauth_logins_total" in response.content
    assert b"flowauth_request_duration_seconds_bucket" in response.content
    assert api.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 404


def test_with_a_metrics_token_only_its_bearer_reads_metrics(api, settings):
    settings.METRICS_TOKEN = "scrape-token-0123456789"
    assert api.get("/metrics").status_code == 404
    assert api.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    remote = api.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-0123456789", REMOTE_ADDR="203.0.113.9")
    assert remote.status_code == 200


@pytest.mark.live_server_process
@pytest.mark.django_db(transaction=True)
def test_multiprocess_metrics_add_up_every_gunicorn_worker(tmp_path):
    make_user("metrics@example.com")
    env = {"PROMETHEUS_MULTIPROC_DIR": tmp_path, "LOGIN_THROTTLE_RATE": "1000/min"}
    with servers.gunicorn(workers=2, threads=1, **env) as base:
        with httpx.Client() as client:
            for _ in range(8):  # fresh connections: spread over both workers
                response = httpx.post(f"{base}/api/auth/login", json={"email": "metrics@example.com", "password": "no"})
                assert response.status_code == 401
            text = client.get(f"{base}/metrics").text
    failures = re.search(r'^flowauth_logins_total\{outcome="failure"\} (\S+)$', text, re.M)
    assert failures and float(failures.group(1)) == 8.0
    assert len(list(tmp_path.glob("counter_*.db"))) == 2, "one file per worker"
