"""Scale: a million revoked ids in Redis, a million refresh-token rows in the database."""

import secrets
import statistics
import time
from datetime import timedelta

import httpx

FILL_BATCH = 10_000


def _percentiles(samples_us: list[float]) -> dict:
    cuts = statistics.quantiles(samples_us, n=100)
    return {"p50_us": statistics.median(samples_us), "p90_us": cuts[89], "p99_us": cuts[98], "samples": len(samples_us)}


def revocation_check_latency(calls: int = 5000) -> dict:
    """The revocation check alone (one MGET), timed in-process for ids that are not revoked.

    Timed from the server's CPUs, as the server would ask: where the caller and
    Redis share a core the round trip costs a fraction of one between cores.
    """
    from bench.harness import on_server_cpus
    from tokens import revocation

    samples = []
    with on_server_cpus():
        for _ in range(calls):
            session_id, jti = secrets.token_hex(16), secrets.token_hex(16)
            started = time.perf_counter_ns()
            revocation.is_revoked(session_id=session_id, refresh_jti=jti, user_id="1", session_start=1)
            samples.append((time.perf_counter_ns() - started) / 1000)
    return _percentiles(samples)


def _fill_revocations(client, count: int) -> float:
    """``count`` revocation keys as revoke_session writes them (a session key and a jti key each)."""
    from tokens import revocation

    started = time.monotonic()
    for offset in range(0, count, FILL_BATCH):
        pipe = client.pipeline(transaction=False)
        for index in range(offset, min(offset + FILL_BATCH, count)):
            key = revocation.session_key if index % 2 == 0 else revocation.refresh_key
            pipe.set(key(secrets.token_hex(16), index // 4), "1", ex=86_400)  # two sessions per user
        pipe.execute()
    return time.monotonic() - started


def revoked_ids(bench_redis, count: int, compare_floor) -> dict:
    """Memory per revoked id, and request and check latency before and after ``count`` of them."""
    client = bench_redis.client()
    before = {"wrk": compare_floor(), "check": revocation_check_latency()}
    memory_before, keys_before = client.info("memory")["used_memory"], client.dbsize()
    fill_seconds = _fill_revocations(client, count)
    memory_after, keys_after = client.info("memory")["used_memory"], client.dbsize()
    sample = [key for key in (client.randomkey() for _ in range(2000)) if key and key.startswith("flowauth:rv:")]
    usage = [client.memory_usage(key, samples=0) for key in sample[:1000]]
    after = {"wrk": compare_floor(), "check": revocation_check_latency()}
    return {
        "count": count,
        "fill_seconds": fill_seconds,
        "keys_added": keys_after - keys_before,
        "used_memory_before": memory_before,
        "used_memory_after": memory_after,
        "bytes_per_id": (memory_after - memory_before) / (keys_after - keys_before),
        "memory_usage_per_key": statistics.mean(usage) if usage else None,
        "sample_key": sample[0] if sample else None,
        "before": before,
        "after": after,
    }


# --- refresh-token rows ---------------------------------------------------------------


def _empty_token_tables() -> None:
    from django.core.management.color import no_style
    from django.db import connection

    from tokens.models import AuthEvent, RefreshToken, Session

    tables = [RefreshToken._meta.db_table, Session._meta.db_table, AuthEvent._meta.db_table]
    connection.ops.execute_sql_flush(connection.ops.sql_flush(no_style(), tables, allow_cascade=True))


def _fill_refresh_rows(rows: int, per_session: int = 10) -> float:
    """History as rotation leaves it: sessions of ``per_session`` rows, all but the last used up."""
    from django.utils import timezone

    from accounts.models import User
    from tokens.models import RefreshToken, Session, new_token_id

    owner = User.objects.filter(email="filler@bench.example").first()
    owner = owner or User.objects.create_user("filler@bench.example", None)
    now = timezone.now().replace(microsecond=0)
    started = time.monotonic()
    remaining = rows
    while remaining > 0:
        batch = min(FILL_BATCH, remaining)
        sessions = [
            Session(id=new_token_id(), user=owner, expires_at=now + timedelta(days=90))
            for _ in range(-(-batch // per_session))
        ]
        Session.objects.bulk_create(sessions, batch_size=2000)
        tokens = [
            RefreshToken(
                jti=new_token_id(),
                user=owner,
                session=sessions[index // per_session],
                issued_at=now,
                expires_at=now + timedelta(days=14),
                used_at=None if index % per_session == per_session - 1 else now,
            )
            for index in range(batch)
        ]
        RefreshToken.objects.bulk_create(tokens, batch_size=2000)
        remaining -= batch
    _analyze()
    return time.monotonic() - started


def _analyze() -> None:
    from django.db import connection

    if connection.vendor in ("postgresql", "sqlite"):
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _rotation_latencies(base: str, rotations: int) -> list[float]:
    """One client refreshing its own chain ``rotations`` times in a row, over HTTP; microseconds."""
    from bench.fixtures import flowauth_pair

    refresh, samples = flowauth_pair().refresh, []
    with httpx.Client(base_url=base, timeout=30) as client:
        for _ in range(rotations):
            started = time.perf_counter_ns()
            response = client.post("/api/auth/refresh", json={"refresh": refresh})
            samples.append((time.perf_counter_ns() - started) / 1000)
            response.raise_for_status()
            refresh = response.json()["refresh"]
    return samples


def _measure_rotation(base: str, rotations: int, rounds: int) -> dict:
    from tokens.models import RefreshToken

    rows_before = RefreshToken.objects.count()
    runs = [_percentiles(_rotation_latencies(base, rotations)) for _ in range(rounds)]
    return {
        "rows_before": rows_before,
        "rows_after": RefreshToken.objects.count(),
        "runs": runs,
        "p50_us": statistics.median(run["p50_us"] for run in runs),
        "p99_us": statistics.median(run["p99_us"] for run in runs),
    }


def rotation_rows(base: str, rows: int, rotations: int, rounds: int) -> dict:
    """Rotation latency with 1,000 refresh-token rows in the table, then with ``rows``."""
    _empty_token_tables()
    small_fill = _fill_refresh_rows(1000)
    small = _measure_rotation(base, rotations, rounds)
    large_fill = _fill_refresh_rows(rows - small["rows_after"])
    large = _measure_rotation(base, rotations, rounds)
    return {
        "small": small,
        "large": large,
        "small_fill_seconds": small_fill,
        "large_fill_seconds": large_fill,
        "rotations_per_run": rotations,
    }
