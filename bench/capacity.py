"""Bytes per session, per rotation and per revocation, in PostgreSQL and in Redis: measured.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/capacity.py [N]

Creates its own database (``flowauth_capacity``, dropped at the end) on the
server DATABASE_URL names and starts its own redis-server on a free port,
then through FlowAuth's own services: N sessions started (a user each), each
rotated once, each revoked. After each step it reads
``pg_total_relation_size`` of every FlowAuth table (heap, indexes, TOAST)
and Redis' ``used_memory``; the deltas divided by N are the figures
docs/scaling.md uses. Prints one JSON object.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
DATABASE = "flowauth_capacity"
TABLES = ("accounts_user", "tokens_session", "tokens_refreshtoken", "tokens_authevent", "tokens_usercutoff")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _admin(url: str, sql: str) -> None:
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit((parts.scheme, parts.netloc, "/postgres", "", "")), autocommit=True) as conn:
        conn.execute(sql)


def main(count: int) -> dict:
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("bench/capacity.py measures PostgreSQL: set DATABASE_URL=postgres://...")
    parts = urlsplit(url)
    _admin(url, f'DROP DATABASE IF EXISTS "{DATABASE}"')
    _admin(url, f'CREATE DATABASE "{DATABASE}"')
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="flowauth-capacity-")
    from flowauth.embedded_redis import server_binary

    # The machine's redis-server (Debian's, as deployed) when there is one, else the embedded one.
    redis_process = subprocess.Popen(
        [
            shutil.which("redis-server") or server_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        os.environ.update(
            {
                "DATABASE_URL": urlunsplit((parts.scheme, parts.netloc, f"/{DATABASE}", "", "")),
                "REDIS_URL": f"redis://127.0.0.1:{port}/0",
                "DJANGO_SETTINGS_MODULE": "flowauth.settings",
                "SECRET_KEY": os.environ.get("SECRET_KEY", "capacity-bench-key-" + "0" * 32),
                "DEBUG": "0",
            }
        )
        return _measure(count)
    finally:
        redis_process.kill()
        redis_process.wait()
        from django.db import connections

        connections.close_all()
        _admin(url, f'DROP DATABASE IF EXISTS "{DATABASE}"')


def _measure(count: int) -> dict:
    import django

    django.setup()
    import logging

    logging.disable(logging.INFO)
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import User
    from tokens import redis_client, revocation, services
    from tokens.models import Session

    call_command("migrate", verbosity=0)
    client = redis_client.get_redis()
    for _ in range(50):
        try:
            client.ping()
            break
        except Exception:
            time.sleep(0.1)
    revocation.rebuild()

    def sizes() -> dict:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
            cursor.execute(
                "SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relname = ANY(%s)", [list(TABLES)]
            )
            tables = dict(cursor.fetchall())
        return {"db": tables, "redis": int(client.info("memory")["used_memory"])}

    hashed = make_password("capacity-bench-password")
    start = sizes()
    users = User.objects.bulk_create(
        [User(email=f"capacity{i}@example.com", username=f"capacity{i}", password=hashed) for i in range(count)]
    )
    after_users = sizes()
    pairs = [services.issue_session(user) for user in users]
    after_sessions = sizes()
    pairs = [services.rotate_refresh(pair.refresh) for pair in pairs]
    after_rotation = sizes()
    for session in Session.objects.all().iterator():
        services.revoke_session(session, reason="logout")
    after_revocation = sizes()

    def per(before: dict, after: dict) -> dict:
        tables = {
            name: round((after["db"].get(name, 0) - before["db"].get(name, 0)) / count)
            for name in TABLES
            if after["db"].get(name, 0) != before["db"].get(name, 0)
        }
        return {
            "db_bytes": tables,
            "db_bytes_total": sum(tables.values()),
            "redis_bytes": round((after["redis"] - before["redis"]) / count),
        }

    return {
        "count": count,
        "postgres": connection.pg_version,
        "redis": client.info("server")["redis_version"],
        "per_user": per(start, after_users),
        "per_session": per(after_users, after_sessions),
        "per_rotation": per(after_sessions, after_rotation),
        "per_revocation": per(after_rotation, after_revocation),
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000), indent=2))
