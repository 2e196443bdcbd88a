"""docker-compose.yml runs the task worker (docs/recovery.md)."""

from tests.servers import BASE_DIR


def test_compose_runs_a_worker_on_the_same_environment():
    import yaml

    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    worker, web = compose["services"]["worker"], compose["services"]["web"]
    assert worker["command"][:3] == ["python", "manage.py", "db_worker"]
    assert worker["environment"] == web["environment"]
