"""Production settings pass Django's deployment checks; weak keys do not (docs/security.md CFG-02, JWT-05, CK-14)."""

import subprocess
import sys

import pytest

from tests.servers import BASE_DIR, server_env

pytestmark = pytest.mark.django_db


def check_deploy(**env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=server_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_is_clean_once_tls_redirect_and_preload_are_chosen():
    result = check_deploy(SECURE_SSL_REDIRECT="1", SECURE_HSTS_PRELOAD="1")
    assert result.returncode == 0, result.stdout + result.stderr


def test_by_default_check_deploy_raises_only_the_two_choices_left_to_the_operator():
    result = check_deploy()
    reported = {line.split(")")[0].split("(")[-1] for line in result.stderr.splitlines() if line.startswith("?: (")}
    assert reported == {"security.W008", "security.W021"}, result.stderr


@pytest.mark.parametrize(
    "key, error",
    [
        ("your-256-bit-secret", "tokens.E001"),  # under 32 bytes
        ("django-insecure-" + "k" * 40, "tokens.E002"),  # a well-known default
        (None, "tokens.E002"),  # the SECRET_KEY itself
    ],
)
def test_a_weak_signing_key_fails_the_deployment_check(key, error, settings):
    result = check_deploy(SECURE_SSL_REDIRECT="1", SECURE_HSTS_PRELOAD="1", JWT_SIGNING_KEY=key or settings.SECRET_KEY)
    assert result.returncode != 0 and error in result.stderr


def test_api_responses_carry_the_browser_security_headers(api):
    response = api.get("/api/auth/health", secure=True)
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
