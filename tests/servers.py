"""Real server processes (gunicorn) sharing the test database and Redis."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
from django.conf import settings
from django.db import connection

BASE_DIR = Path(__file__).resolve().parent.parent


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    scheme = {"postgresql": "postgres", "mysql": "mysql"}[db["ENGINE"].rsplit(".", 1)[-1]]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"{scheme}://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or ''}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(**extra) -> dict:
    tokens = settings.FLOWAUTH_TOKENS
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": settings.SECRET_KEY,
        "DATABASE_URL": database_url(),
        "REDIS_URL": tokens["REDIS_URL"],
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CONN_MAX_AGE": "0",
        "LOG_LEVEL": "WARNING",
        # As tests/conftest.py does in-process: staff reach the admin without a factor unless a test says so.
        "MFA_REQUIRED_FOR_STAFF": "0",
        # Relaxed unless a test passes its own rates (tests/flowauth/test_throttling.py does).
        **{
            name: "100000/min"
            for name in (
                "LOGIN_THROTTLE_RATE",
                "LOGIN_IP_THROTTLE_RATE",
                "REGISTER_THROTTLE_RATE",
                "REFRESH_THROTTLE_RATE",
                "REVOKE_THROTTLE_RATE",
                "INTROSPECT_THROTTLE_RATE",
            )
        },
    }
    env.update({key: str(value) for key, value in extra.items()})
    return env


@contextmanager
def gunicorn(
    workers: int = 2,
    threads: int = 4,
    app: str = "flowauth.wsgi:application",
    ready_path: str = "/api/auth/health",
    log_file: Path | None = None,
    prefix: Sequence[str] = (),
    host: str = "127.0.0.1",
    **env,
):
    """Serve ``app`` (flowauth.wsgi by default) on a free port; yields the base URL.

    With ``log_file`` the server's output goes to that file instead of a pipe:
    a pipe nobody reads fills after 64 KiB and then blocks every worker that
    logs, so the long fault tests (a warning per request) use a file.
    ``prefix`` runs the server under another command (``ip netns exec <ns>``),
    ``host`` is the address it binds and the URL names.
    """
    port = free_port()
    sink = open(log_file, "ab") if log_file is not None else None  # closed once the child holds it
    process = subprocess.Popen(
        [
            *prefix,
            sys.executable,
            "-m",
            "gunicorn",
            app,
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--worker-class",
            "gthread",
            "--timeout",
            "60",
            "--log-level",
            "warning",
        ],
        cwd=BASE_DIR,
        env=server_env(**env),
        stdout=sink or subprocess.DEVNULL,
        stderr=sink or subprocess.PIPE,
    )
    if sink is not None:
        sink.close()  # the child holds its own copy
    base = f"http://{host}:{port}"
    try:
        try:
            _wait_until_up(base, process, ready_path)
        except RuntimeError as exc:
            if log_file is None:
                raise
            raise RuntimeError(f"{exc}: {log_file.read_text()[-2000:]}") from None
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_up(base: str, process: subprocess.Popen, ready_path: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stderr.read().decode()[-2000:] if process.stderr else ""
            raise RuntimeError(f"server exited: {output}")
        try:
            if httpx.get(f"{base}{ready_path}", timeout=2).status_code in (200, 401, 503):
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def cache_settings_with(url: str) -> subprocess.CompletedProcess:
    """Start Django's settings in a fresh interpreter with ``REDIS_URL=url``; print what the cache uses."""
    code = (
        "from django.conf import settings as s; import json; c = s.CACHES['default'];"
        "print(json.dumps([c['LOCATION'], c['OPTIONS'].get('CONNECTION_FACTORY'), c['OPTIONS'].get('SENTINELS'),"
        " c['OPTIONS']['CLIENT_CLASS'], s.FLOWAUTH_TOKENS['REDIS_URL'], s.SESSION_ENGINE]))"
    )
    env = {
        "DJANGO_SETTINGS_MODULE": "flowauth.settings",
        "DEBUG": "0",
        "SECRET_KEY": "k" * 40,
        "REDIS_URL": url,
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup();" + code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
