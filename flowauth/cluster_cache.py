"""django-redis on a Redis Cluster: ``REDIS_URL=redis+cluster://...`` for Django's cache and sessions.

django-redis ships no cluster client; its ``DefaultClient`` only needs a
client object that speaks the commands it sends. What FlowAuth sends through
Django's cache is single-key (sessions: get, set, delete; throttles: SET NX,
an INCR script, TTL), which a ``RedisCluster`` routes to the key's primary,
following MOVED and ASK. Reads never go to a replica (which may lag behind a
logout). Multi-key calls (``get_many``) across slots are not supported.
"""

import threading

from django_redis.pool import ConnectionFactory
from redis.cluster import ClusterNode, RedisCluster

from flowauth import redis_url


class ClusterConnectionFactory(ConnectionFactory):
    """One ``RedisCluster`` per URL and process (it keeps a pool per node)."""

    _clusters: dict[tuple, RedisCluster] = {}
    _lock = threading.Lock()

    def connect(self, url: str) -> RedisCluster:
        params = self.make_connection_params(url)
        key = (url, params.get("socket_timeout"), params.get("socket_connect_timeout"))
        client = self._clusters.get(key)
        if client is None:
            with self._lock:
                client = self._clusters.get(key)
                if client is None:
                    config = redis_url.parse_cluster(url)
                    client = self._clusters[key] = RedisCluster(
                        startup_nodes=[ClusterNode(host, port) for host, port in config.nodes],
                        read_from_replicas=False,
                        require_full_coverage=True,
                        socket_timeout=params.get("socket_timeout"),
                        socket_connect_timeout=params.get("socket_connect_timeout"),
                        **config.server_kwargs(),
                    )
        return client

    def disconnect(self, connection: RedisCluster) -> None:
        connection.disconnect_connection_pools()
