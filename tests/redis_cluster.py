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
import sys
from contextlib import contextmanager
from pathlib import Path

import redis
from redis.crc import key_slot

from tests.redis_sentinel import Node, stop_all, wait_for


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port(taken: frozenset[int] = frozenset()) -> int:
    """A free port whose cluster bus port (port + 10000) is free too: an ephemeral port's may not exist."""
    rng = random.SystemRandom()
    while True:
        port = rng.randrange(20_000, 30_000)
        if port not in taken and _free(port) and _free(port + 10_000):
            return port


def binaries_available() -> bool:
    return bool(shutil.which("redis-server") and shutil.which("redis-cli"))


class Cluster:
    def __init__(self, directory: Path, size: int = 6, node_timeout_ms: int = 1000):
        self.directory, self.node_timeout_ms = directory, node_timeout_ms
        self.nodes = self._nodes(size)

    def _nodes(self, size: int) -> list[Node]:
        ports: list[int] = []
        for _ in range(size):
            ports.append(cluster_port(frozenset(ports)))
        return [self._node(index, port) for index, port in enumerate(ports)]

    def _node(self, index: int, port: int) -> Node:
        workdir = self.directory / f"node{index}"
        workdir.mkdir(parents=True, exist_ok=True)
        return Node(
            workdir,
            f"node{index}",
            [
                shutil.which("redis-server"),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(workdir / "nodes.conf"),
                "--cluster-node-timeout",
                str(self.node_timeout_ms),
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

    def start(self, attempts: int = 2) -> "Cluster":
        """Start the nodes and join them; a cluster that does not form is started again on fresh ports.

        Forming a cluster is the harness, not what the tests prove; a failed attempt prints
        each node's state and the end of its log, so the cause stays visible.
        """
        for attempt in range(1, attempts + 1):
            try:
                return self._form()
            except (AssertionError, subprocess.SubprocessError, OSError) as exc:
                print(f"\ncluster: attempt {attempt} did not form: {exc}\n{self.describe()}", file=sys.stderr)
                self.stop()
                if attempt == attempts:
                    raise
                self.directory = self.directory.with_name(f"{self.directory.name}-{attempt + 1}")
                self.nodes = self._nodes(len(self.nodes))
        raise AssertionError("unreachable")

    def _form(self) -> "Cluster":
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
        wait_for(self._ready, 45, "the cluster to serve every slot on every node")
        return self

    def describe(self) -> str:
        """One line per node: alive or its exit code, role, primary, link, cluster state; then its log's end."""
        lines = []
        for node in self.nodes:
            if node.process is None or node.process.poll() is not None:
                state = "not started" if node.process is None else f"exited {node.process.returncode}"
            else:
                try:
                    replication, info = node.client().info("replication"), self.cluster_info(node)
                    state = (
                        f"{replication['role']} primary={replication.get('master_port')} "
                        f"link={replication.get('master_link_status')} state={info['cluster_state']} "
                        f"known={info['cluster_known_nodes']} slots_ok={info['cluster_slots_ok']}"
                    )
                except (redis.RedisError, OSError) as exc:
                    state = f"unreachable: {exc!r}"
            log = node.directory / f"{node.name}.log"
            tail = log.read_text(errors="replace").splitlines()[-4:] if log.exists() else []
            lines.append(f"  {node.name} :{node.port} {state}")
            lines.extend(f"      {line}" for line in tail)
        return "\n".join(lines)

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
