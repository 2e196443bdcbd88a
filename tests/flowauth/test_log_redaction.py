"""No log line FlowAuth's processes write carries a token (docs/operations.md "Observability"; docs/api.md "Conventions").

Checked on the real output of runserver (DEBUG=1, as ``make run``) and of
gunicorn (access and error logs, through the project's gunicorn.conf.py), and
on Django's own loggers as settings.LOGGING configures them.
"""

import logging
import socket
import subprocess
import sys

import httpx
import pytest

from tests.runserver import runserver
from tests.servers import BASE_DIR, _wait_until_up, free_port, server_env
from tokens import services

pytestmark = pytest.mark.django_db(transaction=True)

OPAQUE = "opaque-secret-0123456789"


def _requests(base: str, access: str) -> None:
    httpx.get(f"{base}/api/auth/whoami?access_token={access}")
    httpx.get(f"{base}/api/auth/whoami?refresh={OPAQUE}&x=1")
    httpx.get(f"{base}/api/nope?token={access}")
    httpx.post(f"{base}/api/auth/login?password={OPAQUE}", json={"email": "a@example.com", "password": OPAQUE})


def _assert_redacted(text: str, access: str) -> None:
    assert access not in text and access.split(".")[1] not in text
    assert OPAQUE not in text
    assert "[redacted-token]" in text


def test_runserver_access_log_redacts_tokens_in_query_strings(user, tmp_path):
    access = services.issue_session(user).access
    log = tmp_path / "runserver.log"
    with runserver(log) as base:
        _requests(base, access)
    text = log.read_text()
    assert "/api/auth/whoami" in text  # the access log was written
    _assert_redacted(text, access)


def test_gunicorn_access_and_error_logs_redact_tokens(user, tmp_path):
    access = services.issue_session(user).access
    access_log, error_log = tmp_path / "access.log", tmp_path / "error.log"
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "flowauth.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--worker-class",
            "gthread",
            "--threads",
            "2",
            "--log-level",
            "debug",
            "--access-logfile",
            str(access_log),
            "--error-logfile",
            str(error_log),
        ],
        cwd=BASE_DIR,
        env=server_env(LOG_LEVEL="INFO"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process, "/api/auth/health")
        _requests(base, access)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:  # a request gunicorn refuses itself
            sock.sendall(f"GET /api/auth/whoami?access_token={access} HTTP/1.1\r\nBad\x01Header\r\n\r\n".encode())
            sock.recv(4096)
    finally:
        process.terminate()
        process.wait(timeout=10)
    text = access_log.read_text()
    assert "/api/auth/whoami" in text
    _assert_redacted(text, access)
    errors = error_log.read_text()
    assert access not in errors and OPAQUE not in errors


def _handlers(logger: logging.Logger) -> list[logging.Handler]:
    while logger is not None:  # as logging.Logger.callHandlers walks them; pytest's capture aside
        own = [h for h in logger.handlers if not type(h).__module__.startswith("_pytest")]
        if own:
            return own
        logger = logger.parent if logger.propagate else None
    return []


@pytest.mark.parametrize(
    "name",
    [
        "django.request",
        "django.security.DisallowedHost",
        "django.server",
        "django",
        "django.db.backends",
        "flowauth.auth",
        "flowauth.errors",
    ],
)
def test_django_and_flowauth_loggers_redact_what_they_write(name):
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    logger = logging.getLogger(name)
    handlers = _handlers(logger)
    assert handlers, name
    for handler in handlers:
        record = logger.makeRecord(
            name,
            logging.ERROR,
            __file__,
            1,
            "GET /api/auth/whoami?access_token=%s refresh=%s",
            (token, OPAQUE),
            None,
            extra={"status_code": 500, "server_time": "now"},
        )
        assert handler.filter(record)
        written = handler.format(record)
        assert "whoami" in written
        assert token not in written and OPAQUE not in written, (name, written)
