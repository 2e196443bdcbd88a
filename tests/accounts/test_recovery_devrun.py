"""``make run``'s supervisor: the server and the worker start together and stop together."""

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.servers import BASE_DIR, free_port, server_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live_server_process]


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(line) for line in out.split()]


def test_devrun_serves_runs_a_worker_and_stops_both_on_ctrl_c():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "flowauth.devrun", f"127.0.0.1:{port}"],
        cwd=BASE_DIR,
        env=server_env(DEBUG="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/auth/health", timeout=2).status_code in (200, 503):
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.2)
        kids = children(process.pid)
        assert len(kids) == 2
        cmdlines = [open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ") for pid in kids]
        assert any(b"db_worker" in line for line in cmdlines) and any(b"runserver" in line for line in cmdlines)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        for pid in kids:
            assert not os.path.exists(f"/proc/{pid}") or b"zombie" in open(f"/proc/{pid}/status", "rb").read().lower()
    finally:
        if process.poll() is None:
            process.kill()
