"""What a benchmark run stands on: its own Redis, a disposable database, gunicorn, wrk.

Nothing here touches the checkout's own var/ or the machine's shared Redis:
the run starts a Redis server of its own (the project's bundled
``redis-server``) on a free port, and uses a database made for the run.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import redis

BASE_DIR = Path(__file__).resolve().parent.parent
WORK = BASE_DIR / "bench" / ".work"
WRK_DIR = BASE_DIR / "bench" / "wrk"
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/flowauth_bench"
SECRET_KEY = "flowauth-bench-only-key-" + "b" * 40
# With two cores or more, the server under test gets its own core(s) and the
# load generator and the run's Redis share the rest, so they do not preempt it.
SERVER_CPUS = os.environ.get("BENCH_SERVER_CPUS", "0")
LOAD_CPUS = os.environ.get("BENCH_LOAD_CPUS", "1")
REDIS_CPUS = os.environ.get("BENCH_REDIS_CPUS", LOAD_CPUS)


def pinning() -> bool:
    return (os.cpu_count() or 1) >= 2 and bool(SERVER_CPUS)


def pinned(command: list[str], cpus: str) -> list[str]:
    if not pinning() or not shutil.which("taskset") or not cpus:
        return command
    return ["taskset", "-c", cpus, *command]


@contextmanager
def on_server_cpus():
    """Run this process on the server's CPUs for a while (an in-process measurement)."""
    if not pinning():
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {int(cpu) for cpu in SERVER_CPUS.split(",")})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Redis ------------------------------------------------------------------


class BenchRedis:
    """A redis-server of the run's own: no persistence, never evicting (as FlowAuth requires)."""

    def __init__(self, binary: str):
        self.binary = binary
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self._measuring: redis.Redis | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True)

    def start(self) -> "BenchRedis":
        self.process = subprocess.Popen(
            pinned(
                [
                    self.binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--maxmemory-policy",
                    "noeviction",
                    "--dir",
                    str(WORK),
                ],
                REDIS_CPUS,
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(200):
            try:
                if self.client().ping():
                    return self
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("the benchmark's Redis did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def version(self) -> str:
        return self.client().info("server")["redis_version"]

    def command_calls(self) -> dict[str, int]:
        """Calls per command since start (INFO commandstats), without the INFO calls themselves.

        One long-lived connection asks, so its own connection handshake is not counted.
        """
        if self._measuring is None:
            self._measuring = self.client()
            self._measuring.ping()
        stats = self._measuring.info("commandstats")
        return {
            name.removeprefix("cmdstat_"): int(value["calls"])
            for name, value in stats.items()
            if name != "cmdstat_info"
        }


# --- the database -------------------------------------------------------------


def _postgres_reachable(url: str) -> bool:
    import psycopg

    admin = url.rsplit("/", 1)[0] + "/postgres"
    try:
        with psycopg.connect(admin, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def prepare_database() -> tuple[str, str]:
    """(DATABASE_URL, a description): BENCH_DATABASE_URL, else a fresh PostgreSQL database, else SQLite."""
    given = os.environ.get("BENCH_DATABASE_URL")
    if given:
        return given, "BENCH_DATABASE_URL (tables emptied by the run)"
    if _postgres_reachable(DEFAULT_POSTGRES):
        import psycopg

        admin = DEFAULT_POSTGRES.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute("DROP DATABASE IF EXISTS flowauth_bench WITH (FORCE)")
            connection.execute("CREATE DATABASE flowauth_bench")
        return DEFAULT_POSTGRES, "PostgreSQL on 127.0.0.1:5432, database flowauth_bench (recreated)"
    path = WORK / "bench.sqlite3"
    for leftover in WORK.glob("bench.sqlite3*"):
        leftover.unlink()
    return f"sqlite:///{path}", "SQLite under bench/.work/ (no PostgreSQL on 127.0.0.1:5432)"


# --- the server under test ------------------------------------------------------


def server_env(database_url: str, redis_url: str) -> dict[str, str]:
    """One environment for the server and the driver: production settings, throttles out of the way."""
    prometheus = WORK / "prometheus"
    shutil.rmtree(prometheus, ignore_errors=True)
    prometheus.mkdir(parents=True)
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DEBUG": "0",
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "PROMETHEUS_MULTIPROC_DIR": str(prometheus),
        "ACCESS_TOKEN_LIFETIME": "3600",
        # Counted as in production (one atomic increment each), but never reached.
        **{
            name: "1000000000/min"
            for name in (
                "LOGIN_THROTTLE_RATE",
                "LOGIN_IP_THROTTLE_RATE",
                "REGISTER_THROTTLE_RATE",
                "REFRESH_THROTTLE_RATE",
                "REVOKE_THROTTLE_RATE",
                "INTROSPECT_THROTTLE_RATE",
            )
        },
    }


@contextmanager
def gunicorn(env: dict, *, workers: int, threads: int):
    """gunicorn as the Dockerfile runs it; yields the base URL."""
    port = free_port()
    log = (WORK / "server.log").open("w")
    process = subprocess.Popen(
        pinned(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "flowauth.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--worker-class",
                "gthread",
                "--timeout",
                "120",
                "--log-level",
                "warning",
            ],
            SERVER_CPUS,
        ),
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def _wait_until_up(base: str, process: subprocess.Popen) -> None:
    import httpx

    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {WORK / 'server.log'}")
        try:
            if httpx.get(f"{base}/api/auth/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("gunicorn did not become healthy")


# --- the load generator -----------------------------------------------------------


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed: apt-get install wrk (make bench does this when run as root)")
    return found


def wrk_version() -> str:
    result = subprocess.run([wrk_binary(), "-v"], capture_output=True, text=True)
    return (result.stdout + result.stderr).splitlines()[0].strip()


def run_wrk(url: str, script: str, args: list[str], *, seconds: int, threads: int, connections: int) -> dict:
    """One wrk run; returns its counts and latencies (microseconds) and requests per second."""
    combined = WORK / f"{script}.combined.lua"
    combined.write_text((WRK_DIR / f"{script}.lua").read_text() + "\n" + (WRK_DIR / "report.lua").read_text())
    command = pinned(
        [
            wrk_binary(),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{int(seconds)}s",
            "--timeout",
            "10s",
            "-s",
            str(combined),
            url,
            "--",
            *args,
        ],
        LOAD_CPUS,
    )
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    line = next((line for line in result.stdout.splitlines() if line.startswith("BENCH_JSON ")), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed: {result.stderr or result.stdout}")
    figures = json.loads(line.removeprefix("BENCH_JSON "))
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    return figures
