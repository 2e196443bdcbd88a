"""A PostgreSQL 15 primary and a streaming standby of the test's own.

``initdb`` and ``pg_basebackup`` from /usr/lib/postgresql/15/bin, free
loopback ports, a temporary directory; run as the ``postgres`` OS user when
the tests run as root (PostgreSQL refuses root). Replication is synchronous
(``synchronous_standby_names = '*'``): a commit is acknowledged once the
standby has it, so promoting the standby loses no acknowledged write.
"""

import os
import pwd
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

import psycopg

from tests.redis_sentinel import wait_for
from tests.servers import free_port

BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


def binaries_available() -> bool:
    return all((BIN / name).exists() for name in ("initdb", "pg_ctl", "pg_basebackup", "postgres"))


def _as_postgres(argv: list) -> list:
    if os.geteuid() != 0:
        return [str(a) for a in argv]
    return ["runuser", "-u", "postgres", "--", *map(str, argv)]


def _run(argv: list, **kwargs) -> subprocess.CompletedProcess:
    # Not a pipe: the postmaster pg_ctl starts would hold it open, and the call would never return.
    return subprocess.run(
        _as_postgres(argv),
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=120,
        **kwargs,
    )


class Cluster:
    def __init__(self, directory: Path, name: str):
        self.data, self.name = directory / name, name
        self.port = free_port()
        self.log = directory / f"{name}.log"

    def dsn(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database} connect_timeout=3"

    def start(self) -> None:
        _run(
            [
                BIN / "pg_ctl",
                "-D",
                self.data,
                "-l",
                self.log,
                "-w",
                "-t",
                "60",
                "start",
                "-o",
                f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1",
            ]
        )

    def crash(self) -> None:
        """Immediate shutdown: no checkpoint, like a crash."""
        _run([BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"])

    def promote(self) -> None:
        _run([BIN / "pg_ctl", "-D", self.data, "-w", "-t", "60", "promote"])

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                _as_postgres([BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"]),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=60,
            )

    def query(self, sql: str, database: str = "postgres", params=()):
        with psycopg.connect(self.dsn(database), autocommit=True) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def in_recovery(self) -> bool:
        return self.query("SELECT pg_is_in_recovery()")[0][0]


class PrimaryAndStandby:
    def __init__(self, directory: Path):
        self.directory = directory
        self.primary = Cluster(directory, "primary")
        self.standby = Cluster(directory, "standby")

    def start(self, database: str) -> "PrimaryAndStandby":
        _run([BIN / "initdb", "-D", self.primary.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        with open(self.primary.data / "postgresql.conf", "a") as conf:
            conf.write("wal_level = replica\nmax_wal_senders = 5\nfsync = off\n")
        self.primary.start()
        self.primary.query(f'CREATE DATABASE "{database}"')
        _run(
            [
                BIN / "pg_basebackup",
                "-h",
                "127.0.0.1",
                "-p",
                self.primary.port,
                "-U",
                "postgres",
                "-D",
                self.standby.data,
                "-R",
                "-X",
                "stream",
                "--no-sync",
                "--checkpoint=fast",
            ]
        )
        self.standby.start()
        # Synchronous only now: with no standby yet, every commit would wait for one.
        self.primary.query("ALTER SYSTEM SET synchronous_standby_names = '*'")
        self.primary.query("SELECT pg_reload_conf()")
        wait_for(
            lambda: self.primary.query(
                "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND sync_state = 'sync'"
            )[0][0],
            30,
            "the standby to stream synchronously",
        )
        return self

    def url(self, database: str) -> str:
        """Both hosts; libpq picks the one that accepts writes."""
        return (
            f"postgres://postgres@127.0.0.1:{self.primary.port},127.0.0.1:{self.standby.port}/{database}"
            "?target_session_attrs=read-write&connect_timeout=2"
        )

    def stop(self) -> None:
        self.standby.stop()
        self.primary.stop()


@contextmanager
def primary_and_standby(database: str = "flowauth"):
    """Under a fresh directory in /tmp, owned by the postgres OS user when running as root."""
    directory = Path(tempfile.mkdtemp(prefix="flowauth-pg-"))
    if os.geteuid() == 0:
        postgres = pwd.getpwnam("postgres")
        os.chown(directory, postgres.pw_uid, postgres.pw_gid)
    pair = PrimaryAndStandby(directory)
    try:
        yield pair.start(database)
    finally:
        pair.stop()
        shutil.rmtree(directory, ignore_errors=True)
