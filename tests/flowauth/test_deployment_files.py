"""The Dockerfile and compose file, checked without a Docker engine; and the same stack without Docker."""

import copy
import json
import shutil
import subprocess
import sys

import httpx
import jsonschema
import pytest
import yaml

from tests.servers import BASE_DIR, gunicorn, server_env

COMPOSE = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
DOCKERFILE = (BASE_DIR / "Dockerfile").read_text()


def _instructions() -> list[tuple[str, str]]:
    joined = DOCKERFILE.replace("\\\n", " ")
    lines = [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [tuple(line.split(None, 1)) for line in lines]


def test_the_dockerfile_builds_from_python_311_slim_and_runs_as_a_non_root_user():
    instructions = _instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    users = [arg for op, arg in instructions if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert ("RUN", "pip install -r requirements/base.txt") in instructions
    cmd = [arg for op, arg in instructions if op == "CMD"][-1]
    assert "gunicorn" in cmd and "flowauth.wsgi:application" in cmd


def test_the_dockerfile_healthcheck_calls_the_health_endpoint():
    healthcheck = [arg for op, arg in _instructions() if op == "HEALTHCHECK"]
    assert healthcheck and "/api/auth/health" in healthcheck[0]


def test_the_dockerignore_keeps_secrets_and_state_out_of_the_image():
    ignored = (BASE_DIR / ".dockerignore").read_text().split()
    assert {".git", ".venv", "var"} <= set(ignored)


def test_compose_has_every_service_with_a_healthcheck():
    services = COMPOSE["services"]
    assert {"web", "redis", "postgres", "scheduler", "mongo"} <= set(services)
    for name, service in services.items():
        assert "test" in service.get("healthcheck", {}), name


def test_compose_web_waits_for_healthy_redis_and_postgres():
    depends = COMPOSE["services"]["web"]["depends_on"]
    assert depends == {"redis": {"condition": "service_healthy"}, "postgres": {"condition": "service_healthy"}}


def test_compose_redis_never_evicts():
    assert "noeviction" in COMPOSE["services"]["redis"]["command"]


def test_compose_scheduler_flushes_expired_tokens_hourly():
    command = COMPOSE["services"]["scheduler"]["command"]
    assert "flush_expired_tokens" in command and "sleep 3600" in command


def test_compose_mongo_is_behind_a_profile():
    assert COMPOSE["services"]["mongo"]["profiles"] == ["mongo"]


def test_compose_services_share_one_environment_with_a_required_secret_key():
    web, scheduler = COMPOSE["services"]["web"], COMPOSE["services"]["scheduler"]
    assert web["environment"] == scheduler["environment"]
    assert web["environment"]["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert web["environment"]["DEBUG"] == "0"


def test_compose_file_validates_against_the_compose_specification():
    """The Compose Specification's JSON schema (tests/fixtures/compose_spec.json, from the
    compose-spec project as shipped in docker-compose 1.29.2): what `docker compose config` checks."""
    schema = json.loads((BASE_DIR / "tests" / "fixtures" / "compose_spec.json").read_text())
    validator = jsonschema.Draft201909Validator(schema)
    validator.validate(COMPOSE)
    broken = copy.deepcopy(COMPOSE)
    broken["services"]["web"]["healthcheck"]["interval_seconds"] = 15
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        result = subprocess.run(
            ["docker", "compose", "config", "--quiet"],
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            env={"SECRET_KEY": "x" * 50, "PATH": "/usr/bin:/usr/local/bin"},
        )
        assert result.returncode == 0, result.stderr


@pytest.mark.live_server_process
@pytest.mark.django_db(transaction=True)
def test_the_same_stack_runs_without_docker():
    """gunicorn (as in the Dockerfile) on this lane's database and Redis, and the scheduler's command."""
    with gunicorn(workers=2, threads=4) as base:
        health = httpx.get(f"{base}/api/auth/health")
        assert health.status_code == 200, health.text
        assert health.json()["redis"] == "connected" and health.json()["database"] == "connected"
    flush = subprocess.run(
        [sys.executable, "manage.py", "flush_expired_tokens"],
        cwd=BASE_DIR,
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert flush.returncode == 0, flush.stderr
    assert "removed" in flush.stdout
