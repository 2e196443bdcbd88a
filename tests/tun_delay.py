"""A delayed point-to-point link between this host and a network namespace, for kernels without ``tc netem``.

Two TUN devices joined by this process: every IP packet read from one is
written to the other DELAY +- JITTER seconds later (uniform, each packet on
its own, so a later packet may overtake an earlier one: netem's jitter). ``delayed_link`` moves one end into a
namespace of its own and addresses both ends; run as a script it is the
forwarder: ``python -m tests.tun_delay <tun a> <tun b> <delay s> <jitter s>``.
"""

import fcntl
import heapq
import os
import random
import select
import struct
import subprocess
import sys
import time
from contextlib import contextmanager

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000


def _open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def forward(name_a: str, name_b: str, delay: float, jitter: float) -> None:
    """Create both devices (they vanish when this process exits), then carry packets until killed."""
    a, b = _open_tun(name_a), _open_tun(name_b)
    peer = {a: b, b: a}
    queue: list[tuple[float, int, int, bytes]] = []
    sequence = 0
    print("ready", flush=True)
    while True:
        timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else None
        readable, _, _ = select.select([a, b, sys.stdin.fileno()], [], [], timeout)
        now = time.monotonic()
        for fd in readable:
            if fd not in peer:  # stdin: the test closed it, or died
                if not os.read(fd, 1):
                    return
                continue
            packet = os.read(fd, 65536)
            release = now + random.uniform(delay - jitter, delay + jitter)
            heapq.heappush(queue, (release, sequence, peer[fd], packet))
            sequence += 1
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, out, packet = heapq.heappop(queue)
            try:
                os.write(out, packet)
            except OSError:  # the device is down (being moved or configured): the packet is lost, as on a wire
                pass


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=30)


def _free_octet() -> int:
    """A third octet N for 10.231.N.0/30 that no interface of this host uses."""
    used = subprocess.run(["ip", "-4", "-o", "addr"], check=True, capture_output=True, text=True).stdout
    for offset in range(256):
        octet = (os.getpid() + offset) % 256
        if f"10.231.{octet}." not in used:
            return octet
    raise RuntimeError("no free 10.231.N.0/30 subnet")


@contextmanager
def delayed_link(delay: float, jitter: float):
    """A namespace joined to this host by the delayed link; yields (namespace, host address, namespace address)."""
    tag = f"fa{os.getpid() % 100000}"
    namespace, outside, inside = f"flowauth-{tag}", f"{tag}h", f"{tag}n"
    octet = _free_octet()
    host_address, peer_address = f"10.231.{octet}.1", f"10.231.{octet}.2"
    in_namespace = ("ip", "netns", "exec", namespace)
    forwarder = subprocess.Popen(
        [sys.executable, "-m", "tests.tun_delay", outside, inside, str(delay), str(jitter)],
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        stdin=subprocess.PIPE,  # the forwarder exits when this end closes, even if this process is killed
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        if forwarder.stdout.readline().strip() != b"ready":
            raise RuntimeError(f"tun forwarder did not start: {forwarder.stderr.read().decode()[-2000:]}")
        _run("ip", "netns", "add", namespace)
        _run("ip", "link", "set", inside, "netns", namespace)
        _run("ip", "addr", "add", host_address, "peer", peer_address, "dev", outside)
        _run("ip", "link", "set", outside, "up")
        _run(*in_namespace, "ip", "addr", "add", peer_address, "peer", host_address, "dev", inside)
        _run(*in_namespace, "ip", "link", "set", inside, "up")
        _run(*in_namespace, "ip", "link", "set", "lo", "up")
        yield namespace, host_address, peer_address
    finally:
        forwarder.kill()  # both devices go with its file descriptors
        forwarder.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=30)


if __name__ == "__main__":
    forward(sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
