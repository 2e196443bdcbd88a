"""A Redis Cluster of the test's own: three primaries and three replicas on loopback.

Real Debian ``redis-server`` processes in cluster mode, on free ports under a
temporary directory, joined by ``redis-cli --cluster create``; stopped by the
test. Helpers move one slot between primaries (the steps ``redis-cli
--cluster reshard`` takes, for a slot the test chooses), kill or pause a
node, and find which node serves a key.
"""

import random
import shutil
import socket
import subprocess
from contextlib import contextmanager
from pathlib import Path

from redis.crc import key_slot

from tests.redis_sentinel import Node, stop_all, wait_for


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too: an ephemeral port's may not exist."""
    rng = random.SystemRandom()
    while True:
        port = rng.randrange(20_000, 30_000)
        if _free(port) and _free(port + 10_000):
            return port


def binaries_available() -> bool:
    return bool(shutil.which("redis-server") and shutil.which("redis-cli"))


class Cluster:
    def __init__(self, directory: Path, size: int = 6, node_timeout_ms: int = 1000):
        self.directory = directory
        self.nodes = [self._node(index, node_timeout_ms) for index in range(size)]

    def _node(self, index: int, node_timeout_ms: int) -> Node:
        workdir = self.directory / f"node{index}"
        workdir.mkdir(parents=True, exist_ok=True)
        return Node(
            workdir,
            f"node{index}",
            [
                shutil.which("redis-server"),
                "--port",
                str(cluster_port()),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(workdir / "nodes.conf"),
                "--cluster-node-timeout",
                str(node_timeout_ms),
                # A replica that lost its primary may take over however long the link was down.
                "--cluster-replica-validity-factor",
                "0",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(workdir),
            ],
        )

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes[:3])

    def start(self) -> "Cluster":
        for node in self.nodes:
            node.start()
        subprocess.run(
            [
                shutil.which("redis-cli"),
                "--cluster",
                "create",
                *(f"127.0.0.1:{node.port}" for node in self.nodes),
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        wait_for(self._ready, 30, "the cluster to serve every slot on every node")
        return self

    def live(self) -> list[Node]:
        return [node for node in self.nodes if node.process is not None and node.process.poll() is None]

    def _ready(self) -> bool:
        for node in self.live():
            info = self.cluster_info(node)
            if info["cluster_state"] != "ok" or int(info["cluster_known_nodes"]) < len(self.nodes):
                return False
        return len(self.primaries()) == 3 and all(self.replica_of(p) is not None for p in self.primaries())

    @staticmethod
    def cluster_info(node: Node) -> dict:
        info = node.client().execute_command("CLUSTER INFO")  # redis-py parses it into a dict
        return {key: str(value) for key, value in info.items()}

    def node_id(self, node: Node) -> str:
        return node.client().execute_command("CLUSTER MYID")

    def _role(self, node: Node) -> str:
        return node.client().info("replication")["role"]

    def primaries(self) -> list[Node]:
        return [node for node in self.live() if self._role(node) == "master"]

    def replica_of(self, primary: Node) -> Node | None:
        """The replica in sync with ``primary``, if any."""
        for node in self.live():
            info = node.client().info("replication")
            if info["role"] == "slave" and int(info["master_port"]) == primary.port:
                if info.get("master_link_status") == "up":
                    return node
        return None

    def serving(self, slot: int) -> Node:
        """The primary serving ``slot`` now, as the live nodes agree."""
        port = self._owner_seen_by(self.primaries()[0], slot)
        if port is None:
            raise AssertionError(f"no node serves slot {slot}")
        return self.by_port(port)

    def by_port(self, port: int) -> Node:
        return next(node for node in self.nodes if node.port == int(port))

    @staticmethod
    def slot(key: str) -> int:
        return key_slot(key.encode())

    def move_slot(self, slot: int, target: Node) -> None:
        """Migrate ``slot`` and its keys to ``target``, as a resharding does, then tell every node."""
        source = self.serving(slot)
        assert source is not target
        source_id, target_id = self.node_id(source), self.node_id(target)
        target.client().execute_command("CLUSTER SETSLOT", slot, "IMPORTING", source_id)
        source.client().execute_command("CLUSTER SETSLOT", slot, "MIGRATING", target_id)
        while keys := source.client().execute_command("CLUSTER GETKEYSINSLOT", slot, 100):
            source.client().execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *keys)
        for node in (target, source, *self.primaries()):
            node.client().execute_command("CLUSTER SETSLOT", slot, "NODE", target_id)
        wait_for(lambda: all(self._owner_seen_by(node, slot) == target.port for node in self.live()), 20, "the move")

    def _owner_seen_by(self, node: Node, slot: int) -> int | None:
        for start, end, primary, *_ in node.client().execute_command("CLUSTER SLOTS"):
            if start <= slot <= end:
                return int(primary[1])
        return None

    def wait_promoted(self, replica: Node, timeout: float = 30) -> None:
        wait_for(lambda: self._role(replica) == "master", timeout, "the replica to be promoted")
        wait_for(
            lambda: all(self.cluster_info(node)["cluster_state"] == "ok" for node in self.live()),
            timeout,
            "the cluster to serve every slot again",
        )

    def commandstats(self, command: str) -> dict[int, int]:
        """Calls of ``command`` so far, per live node (by port)."""
        stats = {}
        for node in self.live():
            entry = node.client().info("commandstats").get(f"cmdstat_{command}", {})
            stats[node.port] = int(entry.get("calls", 0))
        return stats

    def stop(self) -> None:
        stop_all(self.nodes)


@contextmanager
def redis_cluster(directory: Path, **kwargs):
    cluster = Cluster(directory, **kwargs)
    try:
        yield cluster.start()
    finally:
        cluster.stop()
