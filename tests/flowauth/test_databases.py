"""Database portability: URL parsing per backend, and no SQL-only features in the code."""

import json
import re
import subprocess
import sys

import pytest
from django.apps import apps

from tests.servers import BASE_DIR

PROBE = (
    "import json; from django.conf import settings; "
    "print(json.dumps({'db': settings.DATABASES['default'], 'auto': settings.DEFAULT_AUTO_FIELD}, default=str))"
)


def _settings_for(url: str) -> dict:
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "0",
        "SECRET_KEY": "x" * 50,
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "flowauth.settings",
    }
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=BASE_DIR, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_mongodb_url_selects_django_mongodb_backend():
    parsed = _settings_for("mongodb://flow:pw@db.example:27017/flowauth?authSource=admin&replicaSet=rs0")
    assert parsed["db"]["ENGINE"] == "django_mongodb_backend"
    assert parsed["db"]["NAME"] == "flowauth"
    assert parsed["db"]["HOST"] == "mongodb://flow:pw@db.example:27017/?authSource=admin&replicaSet=rs0"
    assert parsed["auto"] == "django_mongodb_backend.fields.ObjectIdAutoField"


def test_a_mongodb_srv_url_keeps_its_scheme():
    parsed = _settings_for("mongodb+srv://cluster0.example.net/flowauth")
    assert parsed["db"]["HOST"] == "mongodb+srv://cluster0.example.net/"


def test_a_mongodb_url_without_a_database_name_is_refused():
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "0",
        "SECRET_KEY": "x" * 50,
        "DATABASE_URL": "mongodb://h:27017",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "DJANGO_SETTINGS_MODULE": "flowauth.settings",
    }
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=BASE_DIR, env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "must name its database" in result.stderr


def test_a_mysql_url_gets_utf8mb4_and_read_committed():
    parsed = _settings_for("mysql://root@127.0.0.1:3306/flowauth")
    assert parsed["db"]["ENGINE"] == "django.db.backends.mysql"
    assert parsed["db"]["OPTIONS"]["charset"] == "utf8mb4"
    assert parsed["db"]["OPTIONS"]["isolation_level"] == "read committed"
    assert parsed["auto"] == "django.db.models.BigAutoField"


SQL_ONLY = re.compile(r"\.raw\(|\.extra\(|RawSQL|\.cursor\(|connection\.execute|select_for_update|\bSubquery\b")


@pytest.mark.parametrize("app", ["accounts", "tokens"])
def test_services_and_selectors_use_no_raw_sql(app):
    for path in sorted((BASE_DIR / app).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        source = path.read_text()
        assert not SQL_ONLY.search(source), f"{path}: {SQL_ONLY.search(source).group(0)}"


def test_the_models_use_portable_field_types_only():
    portable = {
        "AutoField",
        "BigAutoField",
        "CharField",
        "EmailField",
        "BooleanField",
        "DateTimeField",
        "ForeignKey",
        "OneToOneField",
        "ManyToManyField",
        "GenericIPAddressField",
        "ImageField",
        "JSONField",
        "PositiveSmallIntegerField",
    }  # counters (a code's tries, a delivery's attempts)
    for model in list(apps.get_app_config("tokens").get_models()) + list(apps.get_app_config("accounts").get_models()):
        for field in model._meta.get_fields(include_hidden=False):
            if field.auto_created and not field.concrete:
                continue
            assert type(field).__name__ in portable, f"{model.__name__}.{field.name}: {type(field).__name__}"


def test_rotation_is_a_filtered_update_not_a_lock():
    source = (BASE_DIR / "tokens" / "services.py").read_text()
    assert "used_at__isnull=True, is_revoked=False" in source and ").update(used_at=now)" in source
    assert "select_for_update" not in source
