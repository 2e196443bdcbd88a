"""A Sentinel-managed Redis of the test's own: a primary, a replica and three Sentinels.

Real Debian processes (``redis-server``, ``redis-sentinel``) on free loopback
ports under a temporary directory, stopped by the test. Nothing is shared
with the machine's Redis.
"""

import os
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.servers import free_port

SERVICE = "flowauth"


def binaries_available() -> bool:
    return bool(shutil.which("redis-server") and shutil.which("redis-sentinel"))


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (redis.RedisError, OSError) as exc:
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last error: {last_error!r})")


def _client(port: int) -> redis.Redis:
    return redis.Redis(
        port=port, socket_timeout=2, socket_connect_timeout=2, decode_responses=True, retry=Retry(NoBackoff(), 0)
    )


class Node:
    def __init__(self, directory: Path, name: str, argv: list[str]):
        self.directory, self.name, self.argv = directory, name, argv
        self.port = int(argv[argv.index("--port") + 1]) if "--port" in argv else None
        self.process: subprocess.Popen | None = None

    def start(self) -> "Node":
        log = open(self.directory / f"{self.name}.log", "ab")
        self.process = subprocess.Popen(self.argv, cwd=self.directory, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for(lambda: self.client().ping(), 10, f"{self.name} to answer PING")
        return self

    def client(self) -> redis.Redis:
        return _client(self.port)

    def kill(self) -> None:
        """SIGKILL: what it had not yet sent to its replica is lost."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def pause(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)


class SentinelGroup:
    def __init__(self, directory: Path, down_after_ms: int = 1000, failover_timeout_ms: int = 3000):
        self.directory = directory
        self.down_after_ms, self.failover_timeout_ms = down_after_ms, failover_timeout_ms
        self.primary = self._server("primary")
        self.replica = self._server("replica", "--replicaof", "127.0.0.1", str(self.primary.port))
        self.sentinels = [self._sentinel(i) for i in range(3)]

    def _server(self, name: str, *extra: str) -> Node:
        workdir = self.directory / name
        workdir.mkdir(parents=True, exist_ok=True)
        return Node(
            workdir,
            name,
            [
                shutil.which("redis-server"),
                "--port",
                str(free_port()),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(workdir),
                *extra,
            ],
        )

    def _sentinel(self, index: int) -> Node:
        workdir = self.directory / f"sentinel{index}"
        workdir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        conf = workdir / "sentinel.conf"
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {workdir}\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary.port} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} {self.down_after_ms}\n"
            f"sentinel failover-timeout {SERVICE} {self.failover_timeout_ms}\n"
            f"sentinel parallel-syncs {SERVICE} 1\n"
        )
        return Node(workdir, f"sentinel{index}", [shutil.which("redis-sentinel"), str(conf), "--port", str(port)])

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{node.port}" for node in self.sentinels)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def start(self) -> "SentinelGroup":
        self.primary.start()
        self.replica.start()
        wait_for(
            lambda: self.replica.client().info("replication")["master_link_status"] == "up", 10, "the replica to sync"
        )
        for node in self.sentinels:
            node.start()
        # Every Sentinel knows the replica and the other Sentinels before any fault.
        wait_for(lambda: all(self._sentinel_ready(node) for node in self.sentinels), 20, "the Sentinels to agree")
        return self

    def _sentinel_ready(self, node: Node) -> bool:
        master = node.client().sentinel_master(SERVICE)
        return int(master["num-slaves"]) >= 1 and int(master["num-other-sentinels"]) >= 2

    def named_primary(self) -> tuple[str, int]:
        host, port = self.sentinels[0].client().sentinel_get_master_addr_by_name(SERVICE)
        return host, int(port)

    def stop(self) -> None:
        stop_all([*self.sentinels, self.replica, self.primary])


def stop_all(nodes: list[Node]) -> None:
    """Kill every node, resuming paused ones first (a stopped process ignores nothing but SIGKILL)."""
    for node in nodes:
        if node.process is not None and node.process.poll() is None:
            try:
                node.resume()
            except ProcessLookupError:
                pass
        node.kill()


@contextmanager
def sentinel_group(directory: Path, **kwargs):
    group = SentinelGroup(directory, **kwargs)
    try:
        yield group.start()
    finally:
        group.stop()
