"""A TCP proxy in front of Redis that delays what Redis sends to the client: a slow link from Redis to one reader.

Bytes from the client go through at once; bytes from Redis are held for
``delay`` seconds each, in order, as a long or congested link would hold
them. Used to put a reader "on another host" without a second machine.
"""

import heapq
import itertools
import socket
import threading
import time
from urllib.parse import unquote, urlsplit


class DelayProxy:
    def __init__(self, upstream_url: str, delay: float):
        parts = urlsplit(upstream_url)
        if parts.scheme == "unix":
            self.family, self.address = socket.AF_UNIX, unquote(parts.path)
        else:
            self.family, self.address = socket.AF_INET, (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.delay = delay
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.closed = threading.Event()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Condition()
        self.queue: list = []  # (due, sequence, destination, data)
        self.sequence = itertools.count()
        threading.Thread(target=self._accept, daemon=True).start()
        threading.Thread(target=self._deliver, daemon=True).start()

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.socket(self.family, socket.SOCK_STREAM)
            upstream.connect(self.address)
            self.sockets += [client, upstream]
            threading.Thread(target=self._forward, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._hold, args=(upstream, client), daemon=True).start()

    def _forward(self, source: socket.socket, destination: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                destination.sendall(data)
        except OSError:
            pass
        self._close_pair(source, destination)

    def _hold(self, source: socket.socket, destination: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                with self.lock:
                    heapq.heappush(self.queue, (time.monotonic() + self.delay, next(self.sequence), destination, data))
                    self.lock.notify()
        except OSError:
            pass
        with self.lock:  # the end of the stream travels at the same delay, after the data
            heapq.heappush(self.queue, (time.monotonic() + self.delay, next(self.sequence), destination, None))
            self.lock.notify()

    def _deliver(self) -> None:
        while not self.closed.is_set():
            with self.lock:
                while not self.queue and not self.closed.is_set():
                    self.lock.wait(0.5)
                if self.closed.is_set():
                    return
                due, _, destination, data = self.queue[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self.lock.wait(wait)  # the link's own delay, not a test's pause
                    continue
                heapq.heappop(self.queue)
            try:
                if data is None:
                    destination.close()
                else:
                    destination.sendall(data)
            except OSError:
                pass

    @staticmethod
    def _close_pair(*pair: socket.socket) -> None:
        for sock in pair:
            try:
                sock.close()
            except OSError:
                pass

    def close(self) -> None:
        self.closed.set()
        with self.lock:
            self.lock.notify_all()
        self._close_pair(self.listener, *self.sockets)
