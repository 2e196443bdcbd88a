"""What a revocation write costs with and without the step that waits for its invalidations to leave Redis.

    .venv/bin/python bench/write_cost.py     # embedded Redis, or REDIS_URL (run by make bench)

Each sample is one ``revocation.write`` of one session (two keys), with two
tracking connections open as two readers would have. Prints p50/p99 in us and
the p50 as a ratio of the bare write: the default step (pushes have left
Redis) and strict mode (``REVOCATION_STRICT``: both readers acknowledged).
"""

import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowauth.settings")
# Run by `make bench` with nothing set: production settings need a key, and this one signs nothing kept.
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-only-" + "w" * 40)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from flowauth import embedded_redis  # noqa: E402
from tokens import lifetimes, local_cache, revocation  # noqa: E402
from tokens.settings import token_settings  # noqa: E402

SAMPLES = int(os.environ.get("BENCH_WRITES", "2000"))


def sample(published) -> list[float]:
    original = local_cache.published
    local_cache.published = published
    try:
        now = timezone.now()
        times = []
        for n in range(SAMPLES):
            entry = lifetimes.Revocation(f"bench-write-{n}", "bench", now, now + timedelta(hours=1), f"jti-{n}")
            started = time.perf_counter()
            revocation.write([entry], now=now)
            times.append((time.perf_counter() - started) * 1e6)
        return times
    finally:
        local_cache.published = original


def readers(strict: bool) -> list[local_cache.LocalCache]:
    settings.FLOWAUTH_TOKENS = {**settings.FLOWAUTH_TOKENS, "REVOCATION_STRICT": strict}
    opened = [local_cache.LocalCache(token_settings.REDIS_URL) for _ in range(2)]
    for reader in opened:
        for _ in range(200):  # connects, starts its pump thread, waits for its first heartbeat answer
            reader.lookup(("warm", "", "", 0))
            if reader.lease_from > float("-inf"):
                break
            time.sleep(0.005)
    return opened


def main() -> None:
    if not os.environ.get("REDIS_URL"):
        embedded_redis.ensure_running()
    baseline = None
    for strict, rows in (
        (False, (("write only", lambda client: None), ("write + published()", local_cache.published))),
        (True, (("strict: write + acks", local_cache.published),)),
    ):
        opened = readers(strict)
        try:
            for name, step in rows:
                times = sorted(sample(step))
                p50 = statistics.median(times)
                baseline = baseline or p50
                print(
                    f"{name:<22} p50 {p50:7.0f} us  p99 {times[int(len(times) * 0.99)]:7.0f} us"
                    f"  {p50 / baseline:5.2f}x of the bare write"
                )
        finally:
            for reader in opened:
                reader.close()


if __name__ == "__main__":
    main()
