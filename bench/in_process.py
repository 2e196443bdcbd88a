"""The authenticated GET in-process: CPU time per request through Django's whole stack.

wrk's rounds on a shared two-core machine move by a quarter from one round to
the next, more than the few percent the GET's targets are about. This reading
leaves out the HTTP server, the load generator and the other processes: each
side's requests go through Django's test client (every middleware, the same
views and authentication classes, the same Redis and database) in this one
thread, and what is counted is the thread's own CPU time. The sides take turns
in short blocks, the order rotating.

Noise only ever adds time (a virtual machine's stolen cycles count as this
thread's), so a side's cost is its best block, as ``timeit`` reports; the
ratio is the floor's best over the side's best. The median block and the
median of per-block ratios are printed beside it, to show how noisy the run was.
"""

import os
import statistics
import time

from django.test import Client

BLOCKS = int(os.environ.get("BENCH_INPROCESS_BLOCKS", "100"))
REQUESTS = int(os.environ.get("BENCH_INPROCESS_REQUESTS", "50"))


def _block(client: Client, path: str, authorization: str, requests: int) -> float:
    """CPU microseconds per request over ``requests`` GETs."""
    started = time.thread_time()
    for _ in range(requests):
        response = client.get(path, HTTP_AUTHORIZATION=authorization)
    elapsed = time.thread_time() - started
    if response.status_code != 200:
        raise RuntimeError(f"{path} answered {response.status_code}: the side is not measuring what it says")
    return elapsed / requests * 1e6


def measure(sides, floor: str, blocks: int = BLOCKS, requests: int = REQUESTS) -> dict[str, dict]:
    """{side: {"us": [per block], "best": us, "ratio": floor's best / side's best, "median_ratio": ...}}."""
    client = Client()
    headers = {side.name: side.args()[0] for side in sides}
    for side in sides:
        _block(client, side.path, headers[side.name], requests)  # warm-up: caches, connections, the local map
    times: dict[str, list[float]] = {side.name: [] for side in sides}
    for number in range(blocks):
        shift = number % len(sides)
        for side in sides[shift:] + sides[:shift]:
            times[side.name].append(_block(client, side.path, headers[side.name], requests))
    results = {}
    for name, per_block in times.items():
        paired = [theirs / ours for ours, theirs in zip(per_block, times[floor], strict=True)]
        results[name] = {
            "us": per_block,
            "best": min(per_block),
            "ratio": min(times[floor]) / min(per_block),
            "median_ratio": statistics.median(paired),
        }
    return results


def print_table(results: dict[str, dict]) -> None:
    for name, figures in results.items():
        print(
            f"  {name:<48} best {figures['best']:7.1f} us/request  {figures['ratio']:.3f}x of the floor"
            f"  (median block {statistics.median(figures['us']):7.1f} us, median ratio {figures['median_ratio']:.3f}x)",
            flush=True,
        )
