"""A throwaway redis-server of the test's own, to stop, restart, flush and pause.

Never the shared one: these tests SHUTDOWN, CLIENT PAUSE and CONFIG SET.
"""

import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from flowauth.embedded_redis import server_binary
from tests.servers import free_port


class ThrowawayRedis:
    def __init__(self, directory: Path, *extra_args: str, host: str = "127.0.0.1"):
        self.directory = directory
        self.host = host
        self.port = free_port()
        self.extra_args = extra_args
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def client(self) -> redis.Redis:
        # No retries: a SHUTDOWN drops the connection, and the default client would retry for seconds.
        return redis.Redis(
            host=self.host, port=self.port, socket_timeout=5, decode_responses=True, retry=Retry(NoBackoff(), 0)
        )

    def start(self) -> "ThrowawayRedis":
        """Start on the same port and directory: a dump.rdb left there is loaded."""
        self.process = subprocess.Popen(
            [
                server_binary(),
                "--port",
                str(self.port),
                "--bind",
                self.host,
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return self
            except redis.RedisError:
                time.sleep(0.02)
        raise RuntimeError("throwaway redis did not start")

    def stop(self) -> None:
        """SHUTDOWN NOSAVE: whatever was not SAVEd is lost."""
        if self.process is None:
            return
        try:
            self.client().shutdown(nosave=True)
        except redis.ConnectionError:
            pass
        self.process.wait(timeout=10)
        self.process = None

    def run_id(self) -> str:
        return self.client().info("server")["run_id"]

    def epoch(self) -> str:
        """What FlowAuth's completeness marker holds after a rebuild on this server."""
        info = self.client().info()
        return f"{info['run_id']}:{info['master_replid']}:{info['evicted_keys']}"


@contextmanager
def throwaway_redis(directory: Path, *extra_args: str, host: str = "127.0.0.1"):
    server = ThrowawayRedis(directory, *extra_args, host=host).start()
    try:
        yield server
    finally:
        if server.process is not None:
            server.process.kill()
            server.process.wait(timeout=10)


@contextmanager
def blackhole():
    """A TCP port that accepts connections and never answers: a hung Redis."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()
