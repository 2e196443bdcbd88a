"""gunicorn for the long fault tests: its log goes to a file, never to a pipe nobody reads.

A pipe fills after 64 KiB and then blocks every worker that logs: a fault
that makes FlowAuth log a warning per request would hang it.
"""

import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from tests.servers import BASE_DIR, _wait_until_up, free_port, server_env


@contextmanager
def gunicorn_logging_to(log: Path, workers: int = 2, threads: int = 4, **env):
    port = free_port()
    with open(log, "ab") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "flowauth.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
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
            stdout=sink,
            stderr=sink,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            _wait_until_up(base, _NoPipe(process, log), "/api/auth/health")
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {log.read_text()[-2000:]}") from None
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class _NoPipe:
    """What _wait_until_up needs of a process: poll(), and stderr that reads the log file."""

    def __init__(self, process: subprocess.Popen, log: Path):
        self.process, self.stderr = process, _LogReader(log)

    def poll(self):
        return self.process.poll()


class _LogReader:
    def __init__(self, log: Path):
        self.log = log

    def read(self) -> bytes:
        return self.log.read_bytes()
