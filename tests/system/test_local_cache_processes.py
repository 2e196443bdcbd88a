"""The local verdict cache across server processes: a revocation through one is refused by another next request.

Server B has the verdict in its map (it answered the same token just
before); the revocation goes through server A, or through this process;
B's very next answer must be 401, in every iteration, under concurrent load.
``next_request_loop`` is the loop itself: this module runs it 200 times per
mode, tests/system/test_local_cache_soak.py thousands of times.
"""

import threading
import time

import httpx
import pytest
from django.conf import settings
from django.test import override_settings

from tests.helpers import make_user
from tests.servers import gunicorn
from tokens import services
from tokens.models import RevokeReason

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live_server_process]

ITERATIONS = 200


def local_hits(base: str, metrics_token: str = "") -> float:
    headers = {"Authorization": f"Bearer {metrics_token}"} if metrics_token else {}
    text = httpx.get(f"{base}/metrics", headers=headers).text
    for line in text.splitlines():
        if line.startswith('flowauth_revocation_verdicts_total{source="local"}'):
            return float(line.split()[-1])
    return 0.0


def whoami(client: httpx.Client, base: str, access: str) -> int:
    return client.get(f"{base}/api/auth/whoami", headers={"Authorization": f"Bearer {access}"}).status_code


def cached_session(client: httpx.Client, b: str, user) -> services.TokenPair:
    """A new session of ``user`` that server B has answered three times: its verdict is in B's map."""
    pair = services.issue_session(user)
    for _ in range(3):
        assert whoami(client, b, pair.access) == 200
    return pair


def logout(client: httpx.Client, a: str, pair: services.TokenPair) -> float:
    """Log the session out through server A; returns how long A took to answer."""
    started = time.monotonic()
    response = client.post(
        f"{a}/api/auth/logout",
        json={"refresh": pair.refresh},
        headers={"Authorization": f"Bearer {pair.access}"},
    )
    assert response.status_code == 204, response.text
    return time.monotonic() - started


def next_request_loop(*, iterations: int, strict: bool, redis_url: str | None = None, label: str = "") -> None:
    """Cache, end the session (logout on A, revocation or cut-off here), ask B once more: 0 accepted.

    ``redis_url`` points this process and both servers at another Redis than
    the suite's (a TCP server, the unix socket of the embedded one).
    """
    tokens = {**settings.FLOWAUTH_TOKENS, "REVOCATION_STRICT": strict}  # this process writes too
    if redis_url is not None:
        tokens["REDIS_URL"] = redis_url
    with override_settings(FLOWAUTH_TOKENS=tokens):
        accepted, load_errors, hits, seconds = _loop(iterations, "1" if strict else "0")
    print(
        f"\n[next request{' ' + label if label else ''}, strict={int(strict)}] revoked accepted by B on its next "
        f"request: {len(accepted)} of {iterations}; bystander refusals {len(load_errors)}; "
        f"B's local hits {hits:.0f}; {seconds:.0f} s"
    )
    assert accepted == []
    assert load_errors == []
    assert hits >= iterations, "server B did not answer from its map: the test proved nothing"


def _loop(iterations: int, strict: str) -> tuple[list[int], list[str], float, float]:
    user = make_user("alice@example.com")
    bystander = services.issue_session(make_user("bob@example.com")).access
    stop = threading.Event()
    load_errors = []
    started = time.monotonic()

    with (
        gunicorn(workers=1, threads=4, REVOCATION_STRICT=strict) as a,
        gunicorn(workers=1, threads=4, REVOCATION_STRICT=strict) as b,
    ):

        def load():
            with httpx.Client(timeout=30) as client:
                while not stop.is_set():
                    if whoami(client, b, bystander) != 200:
                        load_errors.append("bystander refused")

        loaders = [threading.Thread(target=load) for _ in range(2)]
        for thread in loaders:
            thread.start()
        accepted = []
        try:
            with httpx.Client(timeout=30) as client:
                for n in range(iterations):
                    pair = cached_session(client, b, user)
                    if n % 3 == 0:
                        logout(client, a, pair)
                    elif n % 3 == 1:
                        services.revoke_session(pair.session, reason=RevokeReason.ADMIN)
                    else:
                        services.revoke_all_for_user(user, reason=RevokeReason.ADMIN)  # the per-user cut-off
                    if whoami(client, b, pair.access) != 401:
                        accepted.append(n)
            hits = local_hits(b)
        finally:
            stop.set()
            for thread in loaders:
                thread.join()
    return accepted, load_errors, hits, time.monotonic() - started


@pytest.mark.timeout(900)  # a few hundred real round trips on a shared machine
@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_revoked_through_one_process_is_refused_by_another_that_had_it_cached(strict):
    next_request_loop(iterations=ITERATIONS, strict=strict)


def test_flushed_redis_is_rebuilt_before_another_process_answers_from_its_map(redis_client):
    user = make_user("alice@example.com")
    with gunicorn(workers=1, threads=2) as b, httpx.Client(timeout=30) as client:
        pair = services.issue_session(user)
        for _ in range(3):
            assert whoami(client, b, pair.access) == 200
        services.revoke_session(pair.session, reason=RevokeReason.ADMIN)
        redis_client.flushdb()  # this run's database only: the revocation now lives only in the database
        assert whoami(client, b, pair.access) == 401
