"""``manage.py runserver`` as ``make run`` starts it (DEBUG=1), its output captured to a file."""

import subprocess
import sys
from contextlib import contextmanager

from tests.servers import BASE_DIR, _wait_until_up, free_port, server_env


@contextmanager
def runserver(log_path, **env):
    """Yield the base URL of a runserver process whose stdout and stderr go to ``log_path``."""
    port = free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=BASE_DIR,
            env=server_env(DEBUG="1", LOG_LEVEL="INFO", **env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        process.stderr = open(log_path, "rb")  # _wait_until_up reports from it if the server exits
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(base, process, "/api/auth/health")
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
            process.stderr.close()
