"""Connections to the revocation store's Redis, and what its server says of itself.

Every new connection reads the server's ``INFO`` (one command, at connect):
its ``run_id``, how many keys it has evicted, its ``maxmemory`` and policy.
``tokens.revocation`` ties the completeness marker to that state and refuses
a server that may evict; this module only keeps it, per server address, for
the process. Clients are raw redis-py clients: errors are raised, never
swallowed (django-redis' ``IGNORE_EXCEPTIONS`` would read as "not revoked").

With a ``redis+cluster://`` URL the client is a ``RedisCluster``: every
connection it opens to a node reads that node's state the same way, so each
primary's state (and with it each shard's epoch) is known by its address.
"""

import threading
import time
from dataclasses import dataclass, field

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisClusterException
from redis.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection

from flowauth import redis_url
from tokens.settings import token_settings

# What a Redis call may raise: a cluster's slot-map errors are not RedisErrors.
ERRORS = (redis.RedisError, RedisClusterException)


@dataclass(frozen=True)
class ServerState:
    """What a Redis server said of itself (INFO): who it is, and whether it drops keys."""

    run_id: str
    evicted_keys: int
    maxmemory: int
    policy: str
    # The replication id: a replica promoted to primary takes a new one, and so does a
    # primary demoted and promoted again (its data then came from another server).
    replid: str = ""
    read_at: float = field(default_factory=time.monotonic, compare=False)

    def age(self) -> float:
        return time.monotonic() - self.read_at

    @classmethod
    def from_info(cls, info: dict) -> "ServerState":
        return cls(
            str(info.get("run_id", "")),
            int(info.get("evicted_keys", 0)),
            int(info.get("maxmemory", 0)),
            str(info.get("maxmemory_policy", "noeviction")),
            str(info.get("master_replid", "")),
        )

    @property
    def identity(self) -> tuple[str, str]:
        """Which server this is: ``(run_id, replication id)``, as the tracking connection records it."""
        return self.run_id, self.replid

    @property
    def epoch(self) -> str:
        """What the marker must hold: a restart, failover or eviction since the rebuild changes it."""
        return f"{self.run_id}:{self.replid}:{self.evicted_keys}"

    @property
    def may_evict(self) -> bool:
        # Revocation keys carry TTLs: exactly what volatile-* policies evict first.
        return self.maxmemory > 0 and self.policy != "noeviction"


# The state of each Redis server this process is connected to, by address:
# read on every new connection, and again by every rebuild and health check.
_servers: dict[tuple, ServerState] = {}


def _sentinel_address(service: str) -> tuple:
    return ("sentinel", service)


def _address(path, host, port) -> tuple:
    return ("unix", path) if path else ("tcp", host, int(port or 0))


def _parse_info(raw) -> dict:
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line and not line.startswith("#"))
    return {key: value.strip() for key, value in pairs}


def _read_server_state(connection) -> None:
    """redis-py's ``redis_connect_func``: the usual handshake, then one INFO on every new connection."""
    connection.on_connect_check_health()
    _record_server_state(connection)


def _record_server_state(connection) -> None:
    """One INFO on a connection whose handshake is done (RedisCluster does its own, then calls this)."""
    connection.send_command("INFO")  # the default sections: server, memory and stats among them
    state = ServerState.from_info(_parse_info(connection.read_response()))
    address = _address(
        getattr(connection, "path", None), getattr(connection, "host", None), getattr(connection, "port", None)
    )
    _servers[address] = state
    service = getattr(getattr(connection, "connection_pool", None), "service_name", None)
    if service is not None:
        # Sentinel: the pool has no fixed address; its state is the primary it last connected to.
        _servers[_sentinel_address(service)] = state


_clients: dict[tuple, redis.Redis] = {}
_clients_lock = threading.Lock()


def get_redis() -> redis.Redis:
    """A raw client (errors are raised, never swallowed), one pool per process."""
    url, timeout = token_settings.REDIS_URL, token_settings.REDIS_SOCKET_TIMEOUT
    key = (url, timeout)
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None and redis_url.is_sentinel(url):
                client = _clients[key] = _sentinel_client(redis_url.parse(url), timeout)
            elif client is None and redis_url.is_cluster(url):
                client = _clients[key] = _cluster_client(redis_url.parse_cluster(url), timeout)
            elif client is None:
                pool = redis.ConnectionPool.from_url(
                    url,
                    socket_timeout=timeout,
                    socket_connect_timeout=timeout,
                    retry_on_timeout=False,
                    health_check_interval=30,
                    decode_responses=True,
                    redis_connect_func=_read_server_state,
                )
                client = _clients[key] = redis.Redis(connection_pool=pool)
    return client


def _sentinel_client(config: redis_url.SentinelURL, timeout: float) -> redis.Redis:
    """The Sentinels' current primary: every new connection asks them where it is, reads only go there."""
    sentinel = Sentinel(list(config.sentinels), sentinel_kwargs=config.sentinel_kwargs(timeout))
    pool = SentinelConnectionPool(
        config.service,
        sentinel,
        connection_class=SentinelManagedConnection,
        is_master=True,
        redis_connect_func=_read_server_state,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry_on_timeout=False,
        health_check_interval=30,
        decode_responses=True,
        **config.server_kwargs(),
    )
    return redis.Redis(connection_pool=pool)


def _cluster_client(config: redis_url.ClusterURL, timeout: float) -> RedisCluster:
    """Each slot's primary, never a replica (which may lag behind a revocation); MOVED and ASK are followed.

    RedisCluster asks for the slot map as it is made: a cluster that cannot
    answer raises a RedisError here, and the next call tries again.
    """
    try:
        return _new_cluster_client(config, timeout)
    except RedisClusterException as exc:
        raise redis.ConnectionError(f"no node of the cluster answered: {type(exc).__name__}") from exc


def _new_cluster_client(config: redis_url.ClusterURL, timeout: float) -> RedisCluster:
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in config.nodes],
        read_from_replicas=False,
        require_full_coverage=True,
        redis_connect_func=_record_server_state,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        decode_responses=True,
        **config.server_kwargs(),
    )


def is_cluster(client=None) -> bool:
    """Whether ``client`` (by default: the configured ``REDIS_URL``) is a Redis Cluster; opens nothing."""
    if client is None:
        return redis_url.is_cluster(token_settings.REDIS_URL)
    return isinstance(client, RedisCluster)


def node_address(node: ClusterNode) -> tuple:
    return _address(None, node.host, node.port)


def node_state(node: ClusterNode) -> ServerState | None:
    """The state of one cluster node, as last read (at connect, rebuild or health check)."""
    return _servers.get(node_address(node))


def refresh_node_state(client: RedisCluster, node: ClusterNode) -> ServerState:
    """Read one cluster node's state now (one INFO to that node) and remember it."""
    state = ServerState.from_info(client.get_redis_connection(node).info())
    _servers[node_address(node)] = state
    return state


def _client_address(client: redis.Redis) -> tuple:
    """The key of ``client``'s server in ``_servers``; fixed for a client, so worked out once (the hot path asks)."""
    try:
        return client._flowauth_address
    except AttributeError:
        pass
    if isinstance(client.connection_pool, SentinelConnectionPool):
        address = _sentinel_address(client.connection_pool.service_name)
    else:
        params = client.connection_pool.connection_kwargs
        address = _address(params.get("path"), params.get("host"), params.get("port"))
    client._flowauth_address = address
    return address


def server_state(client: redis.Redis | None = None) -> ServerState | None:
    """The state of the server behind ``client``, as last read (at connect, rebuild or health check)."""
    return _servers.get(_client_address(client or get_redis()))


def forget_server_state(client: redis.Redis | None = None) -> None:
    """Drop what this process knows of ``client``'s server: the next MGET re-reads it in its round trip."""
    _servers.pop(_client_address(client or get_redis()), None)


def remember_server_state(client: redis.Redis, state: ServerState) -> ServerState:
    _servers[_client_address(client)] = state
    return state


def refresh_server_state(client: redis.Redis | None = None) -> ServerState:
    """Read the server's state now (one INFO) and remember it for this process.

    A cluster answers for all its primaries (one INFO each): the first that
    may evict if any (the store is then refused), else their sum.
    """
    client = client or get_redis()
    if is_cluster(client):
        primaries = {node.name: node for node in client.get_primaries()}
        states = [refresh_node_state(client, node) for _, node in sorted(primaries.items())]
        evicting = next((state for state in states if state.may_evict), None)
        if evicting is not None:
            return evicting
        return ServerState(
            ",".join(state.run_id for state in states),
            sum(state.evicted_keys for state in states),
            max((state.maxmemory for state in states), default=0),
            next((state.policy for state in states if state.policy != "noeviction"), "noeviction"),
            ",".join(state.replid for state in states),
        )
    return remember_server_state(client, ServerState.from_info(client.info()))


def server_epoch(client: redis.Redis | None = None) -> str | None:
    state = server_state(client)
    return state.epoch if state else None
