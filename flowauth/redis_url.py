"""``REDIS_URL`` for a Sentinel-managed primary (``redis+sentinel://``) or a Redis Cluster (``redis+cluster://``).

    redis+sentinel://[[user]:password@]host:port[,host:port...]/service[/db][?sentinel_password=...]

The hosts are the Sentinels (26379 when a port is left out), ``service`` is
the name they monitor (``sentinel monitor <service> ...``), ``db`` the
database number (0). The user and password, when given, are the Redis
servers' (primary and replicas); ``sentinel_password`` (and
``sentinel_username``), when the Sentinels require their own. Every Redis use
(revocation store, throttles, profile cache, Django sessions, health check)
then talks to whichever server the Sentinels name as primary now, and reads
only from it: never from a replica, which may lag behind a revocation.

    redis+cluster://[[user]:password@]host:port[,host:port...]

The hosts are some of the cluster's nodes (6379 when a port is left out):
the client asks them for the slot map and then talks to each slot's
primary, never to a replica. A cluster has no database numbers, so the URL
has no path. See docs/scaling.md.
"""

from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

SCHEME = "redis+sentinel"
CLUSTER_SCHEME = "redis+cluster"
DEFAULT_SENTINEL_PORT = 26379
DEFAULT_REDIS_PORT = 6379
_QUERY_KEYS = {"sentinel_password", "sentinel_username"}


@dataclass(frozen=True)
class SentinelURL:
    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    # Never in a repr: a traceback's frame variables or a log line would show it.
    password: str | None = field(default=None, repr=False)
    sentinel_username: str | None = None
    sentinel_password: str | None = field(default=None, repr=False)

    def django_redis_location(self) -> str:
        """The URL django-redis' SentinelConnectionFactory reads: the host part names the service."""
        auth = ""
        if self.password is not None or self.username is not None:
            auth = f"{quote(self.username or '', safe='')}:{quote(self.password or '', safe='')}@"
        return f"redis://{auth}{quote(self.service, safe='')}/{self.db}"

    def sentinel_kwargs(self, timeout: float) -> dict:
        kwargs: dict = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
        if self.sentinel_password is not None:
            kwargs["password"] = self.sentinel_password
        if self.sentinel_username is not None:
            kwargs["username"] = self.sentinel_username
        return kwargs

    def server_kwargs(self) -> dict:
        kwargs: dict = {"db": self.db}
        if self.password is not None:
            kwargs["password"] = self.password
        if self.username is not None:
            kwargs["username"] = self.username
        return kwargs


@dataclass(frozen=True)
class ClusterURL:
    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def server_kwargs(self) -> dict:
        kwargs: dict = {}
        if self.password is not None:
            kwargs["password"] = self.password
        if self.username is not None:
            kwargs["username"] = self.username
        return kwargs


def is_sentinel(url: str) -> bool:
    return url.split("://", 1)[0].lower() == SCHEME


def is_cluster(url: str) -> bool:
    return url.split("://", 1)[0].lower() == CLUSTER_SCHEME


def _credentials(netloc: str) -> tuple[str | None, str | None, str]:
    userinfo, _, hostlist = netloc.rpartition("@")
    username = password = None
    if userinfo:
        user, has_password, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if has_password else None
    return username, password, hostlist


def _split(url: str):
    try:
        return urlsplit(url)
    except ValueError as exc:  # an unclosed IPv6 bracket, say
        raise ImproperlyConfigured(f"REDIS_URL: {exc}") from None


def _hosts(url: str, scheme: str, default_port: int, what: str):
    """The URL's parts, its credentials and its comma-separated host:port list (at least one)."""
    parts = _split(url)
    if parts.scheme.lower() != scheme:
        raise ImproperlyConfigured(f"REDIS_URL: expected {scheme}://")
    username, password, hostlist = _credentials(parts.netloc)
    hosts = tuple(_host_port(item, default_port) for item in hostlist.split(",") if item.strip())
    if not hosts:
        raise ImproperlyConfigured(f"REDIS_URL: a {scheme}:// URL names at least one {what} host:port")
    return parts, username, password, hosts


def parse_cluster(url: str) -> ClusterURL:
    """Parse a ``redis+cluster://`` URL; ImproperlyConfigured, naming the part at fault, otherwise."""
    parts, username, password, nodes = _hosts(url, CLUSTER_SCHEME, DEFAULT_REDIS_PORT, "node")
    if parts.path.strip("/"):
        raise ImproperlyConfigured("REDIS_URL: a Redis Cluster has no database numbers: redis+cluster://hosts")
    if parts.query:
        raise ImproperlyConfigured("REDIS_URL: redis+cluster:// takes no options")
    return ClusterURL(nodes=nodes, username=username, password=password)


def parse(url: str) -> SentinelURL:
    """Parse a ``redis+sentinel://`` URL; ImproperlyConfigured, naming the part at fault, otherwise."""
    parts, username, password, sentinels = _hosts(url, SCHEME, DEFAULT_SENTINEL_PORT, "Sentinel")
    path = [unquote(piece) for piece in parts.path.split("/") if piece]
    if not path or len(path) > 2:
        raise ImproperlyConfigured("REDIS_URL: redis+sentinel://hosts/<service>[/<db>]")
    db = 0
    if len(path) == 2:
        if not path[1].isdigit():
            raise ImproperlyConfigured("REDIS_URL: the database after the service name must be a number")
        db = int(path[1])
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - _QUERY_KEYS
    if unknown:
        raise ImproperlyConfigured(f"REDIS_URL: unknown redis+sentinel option(s): {', '.join(sorted(unknown))}")
    return SentinelURL(
        sentinels=sentinels,
        service=path[0],
        db=db,
        username=username,
        password=password,
        sentinel_username=query.get("sentinel_username", [None])[-1],
        sentinel_password=query.get("sentinel_password", [None])[-1],
    )


def _host_port(item: str, default_port: int) -> tuple[str, int]:
    item = item.strip()
    if item.startswith("["):  # [::1]:26379
        host, _, rest = item[1:].partition("]")
        port = rest.lstrip(":")
    else:
        host, _, port = item.rpartition(":") if ":" in item else (item, "", "")
    if not host:
        raise ImproperlyConfigured("REDIS_URL: a host is empty")
    if port and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ImproperlyConfigured("REDIS_URL: a port must be a number from 1 to 65535")
    return host, int(port) if port else default_port
