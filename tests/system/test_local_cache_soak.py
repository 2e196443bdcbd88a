"""Soak: the next-request guarantee over thousands of iterations, and across a real (emulated) link.

``make soak`` runs this module (marker ``soak``, excluded from ``make test``).

1. tests/system/test_local_cache_processes.py's loop (cache on B, end the
   session through A or this process, B's next answer must be 401, under
   concurrent load), 1,000 iterations in default and 500 in strict mode, each over
   TCP (a redis-server of the test's own on 127.0.0.1) and over the unix
   socket of the embedded Redis: 3,000 in all, 0 accepted (``make soak-long``:
   4,000 and 1,000, 10,000 in all).
2. Server B in a network namespace of its own, joined to this host by a link
   that delays every IP packet 40 ms +- 20 ms each way (tests/tun_delay.py:
   a TUN pair and a forwarder, as this kernel has no ``tc netem``); Redis,
   server A and this process on the host side, all reaching B over the link. Strict mode: B refuses on its
   next request in every iteration. Default mode: B may still answer from its
   map until the push lands (counted), but refuses within the lease.
"""

import os
import shutil
import time

import httpx
import pytest
import redis
from django.conf import settings
from django.test import override_settings

from flowauth import embedded_redis
from tests.helpers import make_user
from tests.redis_server import throwaway_redis
from tests.servers import gunicorn
from tests.system.test_local_cache_processes import cached_session, local_hits, logout, next_request_loop, whoami
from tests.tun_delay import delayed_link
from tokens.settings import token_settings

pytestmark = [pytest.mark.soak, pytest.mark.django_db(transaction=True), pytest.mark.live_server_process]

# Per transport: 3,000 in all. A strict iteration costs about four default ones (the writer waits for
# acknowledgements), so strict gets fewer to keep `make soak` within its budget. `make soak-long`
# raises them (4,000 and 1,000 per transport: 10,000 in all) through these variables.
ITERATIONS = {
    False: int(os.environ.get("SOAK_DEFAULT_ITERATIONS", "1000")),
    True: int(os.environ.get("SOAK_STRICT_ITERATIONS", "500")),
}
# Seconds per test: about 0.08 s a default iteration and 0.25 s a strict one here, with room to spare.
LOOP_TIMEOUT = max(600, int(max(ITERATIONS[False] * 0.2, ITERATIONS[True] * 0.6)))
NAMESPACE_ITERATIONS = 100  # per mode, each a few round trips over the delayed link
DELAY, JITTER = 0.040, 0.020  # seconds, each direction of the link


@pytest.fixture
def redis_url(request, tmp_path):
    """A Redis over TCP (a server of this test's own) or the embedded server's unix socket."""
    if request.param == "tcp":
        with throwaway_redis(tmp_path) as server:
            yield server.url
        return
    url = embedded_redis.ensure_running()
    if url != settings.FLOWAUTH_TOKENS["REDIS_URL"]:
        redis.Redis.from_url(url).flushdb()  # the suite flushes it before every test when it is the suite's Redis
    yield url


@pytest.mark.timeout(LOOP_TIMEOUT)
@pytest.mark.parametrize("redis_url", ["tcp", "unix"], indirect=True)
@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_thousands_of_next_requests_refused_across_processes(strict, redis_url):
    next_request_loop(
        iterations=ITERATIONS[strict],
        strict=strict,
        redis_url=redis_url,
        label="tcp" if redis_url.startswith("redis://") else "unix",
    )


def _namespaces_available() -> str:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "no ip command (apt-get install iproute2)"
    return "" if os.path.exists("/dev/net/tun") else "no /dev/net/tun"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_reader_in_a_network_namespace_behind_a_delayed_link(tmp_path, strict):
    if reason := _namespaces_available():
        pytest.skip(reason)
    user = make_user("alice@example.com")
    lease = token_settings.REVOCATION_LEASE
    metrics_token = "soak-metrics-token"  # B's /metrics is read from outside its loopback
    accepted, refused_after, logout_seconds = [], [], []
    with (
        delayed_link(DELAY, JITTER) as (namespace, host_address, peer_address),
        throwaway_redis(tmp_path, "--protected-mode", "no", host=host_address) as redis_server,
        override_settings(
            FLOWAUTH_TOKENS={**settings.FLOWAUTH_TOKENS, "REDIS_URL": redis_server.url, "REVOCATION_STRICT": strict}
        ),
        gunicorn(workers=1, threads=2, REVOCATION_STRICT=int(strict)) as a,
        gunicorn(
            workers=1,
            threads=2,
            prefix=("ip", "netns", "exec", namespace),
            host=peer_address,
            ALLOWED_HOSTS=f"127.0.0.1,localhost,{peer_address}",
            METRICS_TOKEN=metrics_token,
            REVOCATION_STRICT=int(strict),
        ) as b,
        httpx.Client(timeout=30) as client,
    ):
        for n in range(NAMESPACE_ITERATIONS):
            pair = cached_session(client, b, user)
            logout_seconds.append(logout(client, a, pair))
            sent = answered = time.monotonic()
            if whoami(client, b, pair.access) != 401:
                accepted.append(n)
                while True:  # how long after the logout's answer B still answers from its map
                    sent = time.monotonic()
                    if whoami(client, b, pair.access) == 401 or sent - answered > 5:
                        break
            refused_after.append(sent - answered)
        hits = local_hits(b, metrics_token)
    logout_seconds.sort()
    print(
        f"\n[namespace, link {DELAY * 1000:.0f} +- {JITTER * 1000:.0f} ms each way, strict={int(strict)}, lease {lease}s] revoked accepted "
        f"by B on its next request: {len(accepted)} of {NAMESPACE_ITERATIONS}; refused at most "
        f"{max(refused_after) * 1000:.0f} ms after the logout answered; logout p50 "
        f"{logout_seconds[len(logout_seconds) // 2] * 1000:.0f} ms, max {logout_seconds[-1] * 1000:.0f} ms; "
        f"B's local hits {hits:.0f}"
    )
    assert hits >= NAMESPACE_ITERATIONS, "server B did not answer from its map: the test proved nothing"
    if strict:
        assert accepted == [], "strict mode: a reader across a delayed link answered from a stale map"
    assert max(refused_after) <= lease, "a revoked session was accepted for longer than the lease"
