"""A reader behind a slow link from Redis (another host, seen from Redis): strict mode still refuses next request.

Server B reaches Redis through tests/delay_proxy.py, which holds every byte
Redis sends it for DELAY seconds; server A and this process talk to Redis
directly. With the default protocol an invalidation can still be on the link
when A answers the logout, and B answers from its map until the push lands
(within the lease): the test counts how often, without asserting it. With
``REVOCATION_STRICT`` A answers only once B has acknowledged the write, so
B's very next answer is 401 in every iteration.
"""

import httpx
import pytest

from tests.delay_proxy import DelayProxy
from tests.helpers import make_user
from tests.servers import gunicorn
from tests.system.test_local_cache_processes import cached_session, local_hits, logout, whoami
from tokens.settings import token_settings

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live_server_process]

DELAY = 0.15  # seconds, Redis -> B
LEASE = 1.0  # longer than a heartbeat's round trip over the slow link, so B keeps using its map
ITERATIONS = 15


def redis_db() -> int:
    path = token_settings.REDIS_URL.rsplit("/", 1)[-1].split("?")[0]
    return int(path) if path.isdigit() else 0


@pytest.mark.timeout(600)
@pytest.mark.parametrize("strict", ["0", "1"], ids=["default", "strict"])
def test_reader_behind_a_slow_link(redis_client, strict):
    user = make_user("alice@example.com")
    proxy = DelayProxy(token_settings.REDIS_URL, DELAY)
    settings = {"REVOCATION_STRICT": strict, "REVOCATION_LEASE": LEASE}
    accepted, logout_seconds = [], []
    try:
        with (
            gunicorn(workers=1, threads=2, **settings) as a,
            gunicorn(workers=1, threads=2, REDIS_URL=proxy.url(redis_db()), **settings) as b,
            httpx.Client(timeout=30) as client,
        ):
            for n in range(ITERATIONS):
                pair = cached_session(client, b, user)
                logout_seconds.append(logout(client, a, pair))
                if whoami(client, b, pair.access) != 401:
                    accepted.append(n)
            hits = local_hits(b)
    finally:
        proxy.close()
    logout_seconds.sort()
    print(
        f"\n[slow link {DELAY * 1000:.0f} ms, strict={strict}] revoked accepted by B on its next request: "
        f"{len(accepted)} of {ITERATIONS}; logout p50 {logout_seconds[len(logout_seconds) // 2] * 1000:.0f} ms, "
        f"max {logout_seconds[-1] * 1000:.0f} ms; B's local hits {hits:.0f}"
    )
    assert hits >= ITERATIONS, "server B did not answer from its map: the test proved nothing"
    if strict == "1":
        assert accepted == [], "strict mode: a reader behind a slow link answered from a stale map"
