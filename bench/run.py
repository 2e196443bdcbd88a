"""FlowAuth against what its users would pick instead, side by side in one run.

    make bench          # = .venv/bin/python bench/run.py; about ten minutes
    BENCH_ONLY="authenticated GET" BENCH_SECONDS=5 BENCH_ROUNDS=3 make bench   # that scenario only; prints ratios
    BENCH_ONLY=in-process make bench   # the GET's sides in-process, CPU time per request (bench/in_process.py)
    BENCH_SECONDS=10 BENCH_ROUNDS=3 BENCH_WORKERS=2 BENCH_THREADS=4 make bench

One gunicorn server hosts every side (FlowAuth's endpoints, and one probe
view behind each baseline's authentication class), so all sides share its
workers, middleware, database and Redis. wrk drives it over loopback; the
sides alternate within each round, so machine noise reaches all of them.
Writes bench/REPORT.md and bench/charts/*.png.
"""

import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness  # noqa: E402
from bench.fixtures import (  # noqa: E402
    EMAIL,
    PASSWORD,
    bench_user,
    drf_token,
    flowauth_pair,
    simplejwt_access,
    simplejwt_refresh,  # noqa: E402
)

CHAINS = 4  # concurrent refresh chains, one wrk connection each
# FlowAuth's class with the revocation check removed: what the one Redis round trip costs.
DIAGNOSTIC = "diagnostic: FlowAuth without its Redis check"
ROUND_TRIP = "FlowAuth, local cache off (MGET every request)"
FLOOR = "simplejwt stateless (floor)"
# The floor's class on FlowAuth's own token (431 bytes against simplejwt's 231: PyJWT checks every
# character of it): how much of the gap to the floor is the token's size, not FlowAuth's checks.
SAME_TOKEN_FLOOR = "diagnostic: the floor's class on FlowAuth's token"


@dataclass
class Side:
    name: str
    path: str
    script: str
    args: object  # () -> list[str]: fresh for every run (a refresh chain is used up)
    threads: int = 1
    connections: int = 8


@dataclass
class Config:
    seconds: int = int(os.environ.get("BENCH_SECONDS", "10"))
    rounds: int = int(os.environ.get("BENCH_ROUNDS", "3"))
    # One worker on its own core: with two, the kernel's split of wrk's keep-alive
    # connections between them decided the result (1,000 or 2,500 req/s, same side).
    workers: int = int(os.environ.get("BENCH_WORKERS", "1"))
    threads: int = int(os.environ.get("BENCH_THREADS", "4"))
    revoked_ids: int = int(os.environ.get("BENCH_REVOKED_IDS", "10000000"))
    refresh_rows: int = int(os.environ.get("BENCH_REFRESH_ROWS", "10000000"))
    rotations: int = int(os.environ.get("BENCH_ROTATIONS", "300"))


@dataclass
class Results:
    config: Config
    started: float = field(default_factory=time.time)
    environment: dict = field(default_factory=dict)
    scenarios: dict = field(default_factory=dict)  # name -> {side: [wrk figures per round]}
    costs: list = field(default_factory=list)
    in_process: dict = field(default_factory=dict)  # the authenticated GET's sides, CPU time per request
    redis_scale: dict = field(default_factory=dict)
    rotation_scale: dict = field(default_factory=dict)


# --- the sides of each scenario ---------------------------------------------------------


def sides() -> dict[str, list[Side]]:
    flowauth_access, simplejwt_token, drf_key = flowauth_pair().access, simplejwt_access(), drf_token()
    chain = {"threads": CHAINS, "connections": CHAINS}
    login = {"threads": 2, "connections": 4}
    return {
        "authenticated GET": [
            Side("FlowAuth", "/bench/flowauth", "get", lambda: [f"Bearer {flowauth_access}"]),
            Side(FLOOR, "/bench/stateless", "get", lambda: [f"Bearer {simplejwt_token}"]),
            Side("simplejwt JWTAuthentication", "/bench/simplejwt", "get", lambda: [f"Bearer {simplejwt_token}"]),
            Side("DRF TokenAuthentication", "/bench/drf-token", "get", lambda: [f"Token {drf_key}"]),
            Side(DIAGNOSTIC, "/bench/flowauth-without-check", "get", lambda: [f"Bearer {flowauth_access}"]),
            Side(ROUND_TRIP, "/bench/flowauth-round-trip", "get", lambda: [f"Bearer {flowauth_access}"]),
            Side(SAME_TOKEN_FLOOR, "/bench/stateless", "get", lambda: [f"Bearer {flowauth_access}"]),
        ],
        "profile": [
            Side("FlowAuth (profile cache warm)", "/api/auth/profile", "get", lambda: [f"Bearer {flowauth_access}"]),
            Side(
                "simplejwt JWTAuthentication + user row",
                "/bench/simplejwt/profile",
                "get",
                lambda: [f"Bearer {simplejwt_token}"],
            ),
        ],
        "refresh": [
            Side(
                "FlowAuth",
                "/api/auth/refresh",
                "refresh",
                lambda: [flowauth_pair().refresh for _ in range(CHAINS)],
                **chain,
            ),
            Side(
                "simplejwt rotate + blacklist",
                "/bench/simplejwt/refresh",
                "refresh",
                lambda: [simplejwt_refresh() for _ in range(CHAINS)],
                **chain,
            ),
        ],
        "login": [
            Side("FlowAuth", "/api/auth/login", "login", lambda: [EMAIL, PASSWORD], **login),
            Side(
                "simplejwt TokenObtainPairView", "/bench/simplejwt/login", "login", lambda: [EMAIL, PASSWORD], **login
            ),
        ],
    }


# --- measuring ---------------------------------------------------------------------------


def run_side(base: str, side: Side, seconds: int) -> dict:
    return harness.run_wrk(
        base + side.path, side.script, side.args(), seconds=seconds, threads=side.threads, connections=side.connections
    )


def compare(base: str, group: list[Side], config: Config) -> dict[str, list[dict]]:
    """Each side once to warm up, then ``rounds`` rounds, the order rotating every round."""
    for side in group:
        run_side(base, side, min(2, config.seconds))
    figures = {side.name: [] for side in group}
    for number in range(config.rounds):
        shift = number % len(group)
        for side in group[shift:] + group[:shift]:
            result = run_side(base, side, config.seconds)
            figures[side.name].append(result)
            print(
                f"  {side.name:<40} {result['rps']:>9.1f} req/s  p50 {result['p50_us'] / 1000:6.2f} ms"
                f"  p99 {result['p99_us'] / 1000:6.2f} ms",
                flush=True,
            )
    return figures


def median_rps(runs: list[dict]) -> float:
    return statistics.median(run["rps"] for run in runs)


def local_hit_rate(base: str) -> str:
    """Share of revocation verdicts the workers answered from their local map (all workers: multiprocess metrics)."""
    import urllib.request

    counts = {"local": 0.0, "redis": 0.0}
    with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            for source in counts:
                if line.startswith(f'flowauth_revocation_verdicts_total{{source="{source}"}}'):
                    counts[source] += float(line.split()[-1])
    total = counts["local"] + counts["redis"]
    if not total:
        return "local cache hit rate: no verdicts counted"
    return f"local cache hit rate: {counts['local'] / total:.4f} ({counts['local']:.0f} of {total:.0f} verdicts)"


def print_ratios(scenario: dict) -> None:
    """Each side's median req/s over the floor's: what BENCH_ONLY prints instead of the full report."""
    floor = median_rps(scenario[FLOOR]) if FLOOR in scenario else None
    without = median_rps(scenario[DIAGNOSTIC]) if DIAGNOSTIC in scenario else None
    for name, runs in scenario.items():
        ratio = f"  {median_rps(runs) / floor:.3f}x of the floor" if floor else ""
        if without:
            ratio += f"  {median_rps(runs) / without:.3f}x of FlowAuth without its check"
        print(f"{name:<48} {median_rps(runs):>9.1f} req/s{ratio}", flush=True)


def main() -> None:
    harness.WORK.mkdir(parents=True, exist_ok=True)
    harness.wrk_binary()
    config = Config()
    from flowauth.embedded_redis import server_binary

    bench_redis = harness.BenchRedis(os.environ.get("BENCH_REDIS_SERVER") or server_binary()).start()
    try:
        database_url, database = harness.prepare_database()
        env = harness.server_env(database_url, bench_redis.url)
        # The server logs as in production; the driver keeps quiet.
        os.environ.update(env, LOG_LEVEL="WARNING")
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        bench_user()
        from bench import costs
        from bench.report import environment, write_report

        results = Results(config)
        results.environment = environment(config, database, bench_redis, database_url)
        print("per-request costs (in-process)", flush=True)
        results.costs = costs.measure(bench_redis, EMAIL, PASSWORD)
        only = os.environ.get("BENCH_ONLY", "")
        if only in ("", "authenticated GET", "in-process"):
            from bench import in_process

            print("authenticated GET, in-process (CPU time per request)", flush=True)
            results.in_process = in_process.measure(sides()["authenticated GET"], FLOOR)
            in_process.print_table(results.in_process)
            if only == "in-process":  # this reading alone: BENCH_ONLY=in-process make bench (about a minute)
                return
        if only == "scale":  # the scale scenario alone: BENCH_ONLY=scale make bench
            with harness.gunicorn(env, workers=config.workers, threads=config.threads) as base:
                scale_scenario(base, bench_redis, config, results)
            print(json.dumps({"redis_scale": results.redis_scale, "rotation_scale": results.rotation_scale}, indent=1))
            return
        if only:
            with harness.gunicorn(env, workers=config.workers, threads=config.threads) as base:
                print(only, flush=True)
                scenario = compare(base, sides()[only], config)
                print(local_hit_rate(base), flush=True)
            print_ratios(scenario)
            return
        with harness.gunicorn(env, workers=config.workers, threads=config.threads) as base:
            for name, group in sides().items():
                print(name, flush=True)
                results.scenarios[name] = compare(base, group, config)
                if name == "authenticated GET":
                    print(local_hit_rate(base), flush=True)
            scale_scenario(base, bench_redis, config, results)
        write_report(results)
    finally:
        bench_redis.stop()


def scale_scenario(base: str, bench_redis, config, results) -> None:
    """The check and the rotation before and after ``revoked_ids`` keys and ``refresh_rows`` rows."""
    from bench import scale

    print(f"Redis with {config.revoked_ids:,} revoked ids", flush=True)
    floor = sides()["authenticated GET"][:2]
    results.redis_scale = scale.revoked_ids(bench_redis, config.revoked_ids, lambda: compare(base, floor, config))
    print(f"rotation at 1k and {config.refresh_rows:,} refresh-token rows", flush=True)
    results.rotation_scale = scale.rotation_rows(base, config.refresh_rows, config.rotations, config.rounds)


if __name__ == "__main__":
    main()
