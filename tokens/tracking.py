"""The tracking connection: one raw socket per process that Redis tells of every revocation write.

``CLIENT TRACKING ON BCAST PREFIX flowauth:rv:`` on a RESP3 connection makes
Redis push ``invalidate`` messages for every write (or expiry, or deletion)
of a key under the prefix, and a null ``invalidate`` on FLUSHDB/FLUSHALL.
The socket is non-blocking after setup: ``drain()`` reads what is already
there and never waits. redis-py's parser is not used: its reads block, and
a partial frame must be seen as such (tokens.local_cache clears on it).

A server that refuses ``HELLO 3`` (a proxy, or a RESP3-less build) gets the
RESP2 form: ``CLIENT TRACKING ON REDIRECT <own id>`` and ``SUBSCRIBE
__redis__:invalidate`` on this same connection, so invalidations and PING
answers still share one ordered stream; ``drain()`` hands them over in the
RESP3 shapes. Redis older than 6 has no tracking at all and is refused here:
the caller then keeps the round trip on every request.
"""

import select
import socket
import time
from urllib.parse import unquote, urlsplit

from redis.connection import parse_url
from redis.exceptions import RedisError
from redis.sentinel import Sentinel

from flowauth import redis_url

PREFIX = "flowauth:rv:"
CLIENT_NAME = "flowauth-rv-tracking"
INVALIDATE_CHANNEL = "__redis__:invalidate"


class TrackingError(Exception):
    """The tracking connection is unusable: closed, reset, refused or out of step."""


class Incomplete(Exception):
    pass


def encode(*parts: str) -> bytes:
    out = [f"*{len(parts)}\r\n".encode()]
    for part in parts:
        data = part.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


PING = encode("PING")


def _sentinel_primary(config, timeout: float) -> tuple[str, int]:
    sentinel = Sentinel(list(config.sentinels), sentinel_kwargs=config.sentinel_kwargs(timeout))
    try:
        return sentinel.discover_master(config.service)
    except RedisError as exc:  # MasterNotFoundError among them
        raise TrackingError(f"no primary from the Sentinels: {type(exc).__name__}") from exc


def _no_resp3(error: str) -> bool:
    """Whether ``HELLO 3`` was refused for want of RESP3 (unknown or disabled command, NOPROTO)."""
    return error.startswith(("NOPROTO", "ERR unknown command"))


def _as_resp3(value):
    """A RESP2 frame of a subscribed connection in the RESP3 shape ``tokens.local_cache`` reads.

    ``["pong", ""]`` answers a PING; ``["message", "__redis__:invalidate", keys]``
    (keys None on a flush) is an invalidation. Anything else stays as it is,
    and the cache treats it as unexpected.
    """
    if isinstance(value, list):
        if value == ["pong", ""]:
            return "PONG"
        if len(value) == 3 and value[0] == "message" and value[1] == INVALIDATE_CHANNEL:
            return ("push", ["invalidate", value[2]])
    return value


def _identity(info) -> tuple[str, str]:
    """(run_id, master_replid) from an INFO reply, as tokens.redis_client.ServerState reads them."""
    fields = {}
    for line in (info if isinstance(info, str) else "").splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    if not fields.get("run_id"):
        raise TrackingError("INFO gave no run_id")
    return fields["run_id"], fields.get("master_replid", "")


def parse(buf: bytes | bytearray, pos: int = 0):
    """One RESP2/RESP3 value from ``buf`` at ``pos``: (value, next position).

    Raises Incomplete when the frame has not fully arrived. Pushes come back
    as ("push", [items]), errors as ("error", text), nulls as None.
    """
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete()
    kind, line, after = buf[pos : pos + 1], bytes(buf[pos + 1 : end]), end + 2
    if kind in (b"+", b"(", b","):
        return line.decode("utf-8", "replace"), after
    if kind == b"-":
        return ("error", line.decode("utf-8", "replace")), after
    if kind == b":":
        return int(line), after
    if kind == b"#":
        return line == b"t", after
    if kind == b"_":
        return None, after
    if kind in (b"$", b"=", b"!"):
        size = int(line)
        if size < 0:
            return None, after
        if len(buf) < after + size + 2:
            raise Incomplete()
        return bytes(buf[after : after + size]).decode("utf-8", "replace"), after + size + 2
    if kind in (b"*", b">", b"~", b"%", b"|"):
        count = int(line)
        if count < 0:
            return None, after
        if kind in (b"%", b"|"):
            count *= 2
        items = []
        for _ in range(count):
            item, after = parse(buf, after)
            items.append(item)
        if kind == b">":
            return ("push", items), after
        if kind == b"|":  # an attribute precedes the real reply
            return parse(buf, after)
        return items, after
    raise TrackingError(f"unexpected RESP type {kind!r}")


class TrackingConnection:
    """A connected, tracking socket. Every failure raises TrackingError; the caller drops it."""

    def __init__(self, url: str, timeout: float):
        parts = urlsplit(url)
        self.buffer = bytearray()
        # The server's (run_id, replication id), read at connect: requests use the map only
        # while the server they read from is this one.
        self.server: tuple[str, str] = ("", "")
        self.connected_at = time.monotonic()
        try:
            username, password = (None if v is None else unquote(v) for v in (parts.username, parts.password))
            if parts.scheme == "unix":
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(timeout)
                self.sock.connect(unquote(parts.path))
                database = int(parse_url(url).get("db") or 0)
            elif parts.scheme == "redis":
                self.sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout)
                database = int(parse_url(url).get("db") or 0)
            elif redis_url.is_sentinel(url):
                config = redis_url.parse(url)
                # The primary the Sentinels name now; the request path's pool asks them the same way.
                self.sock = socket.create_connection(_sentinel_primary(config, timeout), timeout)
                username, password, database = config.username, config.password, config.db
            else:
                raise TrackingError(f"no tracking connection over {parts.scheme}://")
            if self.sock.family != socket.AF_UNIX:
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            hello = ["HELLO", "3"]
            if password is not None:
                hello += ["AUTH", username or "default", password]
            hello += ["SETNAME", CLIENT_NAME]
            self.resp = 3
            try:
                self._call(hello)
            except TrackingError as exc:
                if not _no_resp3(str(exc)):
                    raise  # a wrong password, say: not a reason to speak RESP2
                self.resp = 2
                if password is not None:
                    self._call(["AUTH", *([username] if username else []), password])
                self._call(["CLIENT", "SETNAME", CLIENT_NAME])
            info = self._call(["INFO"])
            self.server = _identity(info)
            if redis_url.is_sentinel(url) and "role:master" not in info:
                # Mid-failover the Sentinels already name the replica they are promoting; its
                # replication id changes once it is promoted: ask again after the reconnect delay.
                raise TrackingError("the server the Sentinels named is not a primary yet")
            # The database the URL names (redis://h/3, unix:///s?db=3), as redis-py reads it: strict
            # mode's heartbeat writes its acknowledgement there, where writers look for it.
            if database:
                self._call(["SELECT", str(database)])
            redirect = [] if self.resp == 3 else ["REDIRECT", str(self._call(["CLIENT", "ID"]))]
            reply = self._call(["CLIENT", "TRACKING", "ON", *redirect, "BCAST", "PREFIX", PREFIX])
            if reply != "OK":
                raise TrackingError("CLIENT TRACKING refused")
            if self.resp == 2 and self._call(["SUBSCRIBE", INVALIDATE_CHANNEL])[:2] != [
                "subscribe",
                INVALIDATE_CHANNEL,
            ]:
                raise TrackingError("SUBSCRIBE refused")
            self.sock.setblocking(False)
        except OSError as exc:
            self.close()
            raise TrackingError(type(exc).__name__) from exc
        except TrackingError:
            self.close()
            raise

    @property
    def sock(self) -> socket.socket:
        return self._sock

    @sock.setter
    def sock(self, sock: socket.socket) -> None:
        # drain() asks this poller whether anything arrived: cheaper than a recv that fails.
        self._sock, self.poller = sock, select.poll()
        self.poller.register(sock, select.POLLIN)

    def _call(self, parts: list[str]):
        """Blocking request/reply, during setup only."""
        self.sock.sendall(encode(*parts))
        while True:
            try:
                value, pos = parse(self.buffer)
            except Incomplete:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise TrackingError("connection closed during setup") from None
                self.buffer += chunk
                continue
            del self.buffer[:pos]
            if isinstance(value, tuple) and value[0] == "error":
                raise TrackingError(value[1])
            if isinstance(value, tuple) and value[0] == "push":
                continue
            return value

    def send_ping(self) -> None:
        self.send(PING)

    def send(self, frame: bytes) -> None:
        """Send one whole command without waiting; a command sent in part would leave the stream out of step."""
        try:
            sent = self.sock.send(frame)
        except BlockingIOError as exc:
            raise TrackingError("send buffer full") from exc
        except OSError as exc:
            raise TrackingError(type(exc).__name__) from exc
        if sent != len(frame):
            raise TrackingError("short send")

    def drain(self, limit: int) -> tuple[list, bool, int]:
        """Read what is there, without waiting: (complete values, a partial frame is left, bytes read).

        Stops reading after ``limit`` bytes (the caller clears its map then).
        Raises TrackingError on end of file or a socket error.
        """
        if not self.buffer and not self.poller.poll(0):
            return [], False, 0  # the common case: nothing arrived (one poll, no exception raised)
        read = 0
        while read < limit:
            try:
                chunk = self.sock.recv(65536)
            except BlockingIOError:
                break
            except OSError as exc:
                raise TrackingError(type(exc).__name__) from exc
            if not chunk:
                raise TrackingError("end of file")
            self.buffer += chunk
            read += len(chunk)
        values, pos = [], 0
        while pos < len(self.buffer):
            try:
                value, pos_next = parse(self.buffer, pos)
            except Incomplete:
                break
            except (ValueError, IndexError) as exc:
                raise TrackingError("malformed frame") from exc
            values.append(value if self.resp == 3 else _as_resp3(value))
            pos = pos_next
        del self.buffer[:pos]
        return values, bool(self.buffer), read

    def close(self) -> None:
        sock = getattr(self, "sock", None)
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
