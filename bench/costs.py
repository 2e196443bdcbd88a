"""Redis round trips, Redis commands and database queries of one request, per side.

Counted in-process through Django's test client, on the code the server
runs: database queries with ``CaptureQueriesContext``, round trips by
counting what redis-py sends (a pipeline is one), commands from the
server's own ``INFO commandstats``.
"""

import json
from contextlib import contextmanager

import redis
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext


@contextmanager
def redis_round_trips():
    """Counts every packet of commands redis-py writes, from any client in the process."""
    sent = [0]
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent[0] += 1
        return original(self, command, check_health=check_health)

    redis.connection.AbstractConnection.send_packed_command = counting
    try:
        yield sent
    finally:
        redis.connection.AbstractConnection.send_packed_command = original


def _request(client: Client, method: str, path: str, *, auth: str = "", body: dict | None = None):
    extra = {"HTTP_AUTHORIZATION": auth} if auth else {}
    payload = json.dumps(body) if body is not None else None
    return client.generic(method, path, payload or "", content_type="application/json", **extra)


def _cost(bench_redis, client: Client, name: str, prepare) -> dict:
    """Warm up once, then count one request; ``prepare`` makes its arguments outside the count."""
    _request(client, **prepare())
    arguments = prepare()
    before = bench_redis.command_calls()
    with CaptureQueriesContext(connection) as queries, redis_round_trips() as trips:
        response = _request(client, **arguments)
    after = bench_redis.command_calls()
    commands = {
        command: after[command] - before.get(command, 0)
        for command in after
        if after[command] != before.get(command, 0)
    }
    verbs = [query["sql"].split(None, 1)[0].upper() for query in queries.captured_queries]
    return {
        "side": name,
        "status": response.status_code,
        "redis_round_trips": trips[0],
        "redis_commands": commands,
        "db_queries": len(verbs),
        "db_verbs": verbs,
    }


def measure(bench_redis, email: str, password: str) -> list[dict]:
    from bench.fixtures import drf_token, flowauth_pair, simplejwt_access, simplejwt_refresh

    flowauth_access, simplejwt_token, drf_key = flowauth_pair().access, simplejwt_access(), drf_token()
    login = {"email": email, "password": password}

    def get(path: str, auth: str):
        return lambda: {"method": "GET", "path": path, "auth": auth}

    def post(path: str, body):
        return lambda: {"method": "POST", "path": path, "body": body()}

    cases = [
        ("GET: FlowAuth", get("/bench/flowauth", f"Bearer {flowauth_access}")),
        ("GET: simplejwt stateless (floor)", get("/bench/stateless", f"Bearer {simplejwt_token}")),
        ("GET: simplejwt JWTAuthentication", get("/bench/simplejwt", f"Bearer {simplejwt_token}")),
        ("GET: DRF TokenAuthentication", get("/bench/drf-token", f"Token {drf_key}")),
        ("profile: FlowAuth (cache warm)", get("/api/auth/profile", f"Bearer {flowauth_access}")),
        ("profile: simplejwt + user row", get("/bench/simplejwt/profile", f"Bearer {simplejwt_token}")),
        ("refresh: FlowAuth", post("/api/auth/refresh", lambda: {"refresh": flowauth_pair().refresh})),
        (
            "refresh: simplejwt rotate + blacklist",
            post("/bench/simplejwt/refresh", lambda: {"refresh": simplejwt_refresh()}),
        ),
        ("login: FlowAuth", post("/api/auth/login", lambda: login)),
        ("login: simplejwt", post("/bench/simplejwt/login", lambda: login)),
    ]
    client = Client()
    return [_cost(bench_redis, client, name, prepare) for name, prepare in cases]
