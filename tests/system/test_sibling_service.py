"""A sibling service verifies FlowAuth's tokens itself: public keys + the shared Redis."""

import json

import httpx
import pytest

from tests import signing
from tests.helpers import PASSWORD, bearer, error_code, login, make_user
from tests.servers import gunicorn
from tokens import keys, revocation
from tokens import redis_client as redis_client_module

WHOAMI = "/api/auth/whoami"


def _sibling_env(flowauth_settings) -> dict:
    key = signing.private_key("ES256", "sibling")
    kid = signing.kid_of(key, "ES256")
    return {
        "app": "tests.sibling.wsgi:application",
        "ready_path": "/orders",
        "DJANGO_SETTINGS_MODULE": "tests.sibling.settings",
        "SIBLING_SECRET_KEY": "sibling-test-only-" + "k" * 40,
        "FLOWAUTH_ALGORITHM": "ES256",
        "FLOWAUTH_PUBLIC_KEYS": json.dumps({kid: keys.public_pem(key.public_key())}),
        "FLOWAUTH_REDIS_URL": flowauth_settings.FLOWAUTH_TOKENS["REDIS_URL"],
        "FLOWAUTH_AUDIENCE": "orders",
        "FLOWAUTH_ISSUER": "https://auth.example.test",
    }


def _flowauth_env() -> dict:
    return {
        "JWT_ALGORITHM": "ES256",
        "JWT_PRIVATE_KEY": keys.private_pem(signing.private_key("ES256", "sibling")),
        "JWT_AUDIENCE": "orders",
        "JWT_ISSUER": "https://auth.example.test",
    }


@pytest.mark.live_server_process
@pytest.mark.django_db(transaction=True)
def test_the_sibling_refuses_a_token_on_the_first_request_after_logout(settings):
    user = make_user("sibling@example.com")
    with gunicorn(**_flowauth_env()) as flowauth, gunicorn(workers=2, threads=2, **_sibling_env(settings)) as sibling:
        response = httpx.post(f"{flowauth}/api/auth/login", json={"email": user.email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        access = response.json()["access"]
        auth = {"Authorization": f"Bearer {access}"}

        ok = httpx.get(f"{sibling}/orders", headers=auth)
        assert ok.status_code == 200, ok.text
        assert ok.json()["user_id"] == str(user.pk)

        assert httpx.post(f"{flowauth}/api/auth/logout", headers=auth).status_code == 204
        refused = httpx.get(f"{sibling}/orders", headers=auth)
        assert refused.status_code == 401
        assert refused.json()["code"] == "session_revoked"
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]

        # A token FlowAuth did not sign (HS256 with any secret) is refused by the sibling too.
        forged = signing.hs256_with_raw_secret(access, settings.SECRET_KEY.encode())
        assert httpx.get(f"{sibling}/orders", headers={"Authorization": f"Bearer {forged}"}).status_code == 401

        # An incomplete cache (flush, empty restart): the sibling cannot rebuild it, so 503
        # until FlowAuth (here through its health check) has rebuilt it from its database.
        fresh = httpx.post(f"{flowauth}/api/auth/login", json={"email": user.email, "password": PASSWORD}).json()
        fresh_auth = {"Authorization": f"Bearer {fresh['access']}"}
        redis_client_module.get_redis().delete(revocation.MARKER_KEY)
        unavailable = httpx.get(f"{sibling}/orders", headers=fresh_auth)
        assert unavailable.status_code == 503
        assert unavailable.json()["code"] == "auth_unavailable"
        assert httpx.get(f"{flowauth}/api/auth/health").status_code == 200
        assert httpx.get(f"{sibling}/orders", headers=fresh_auth).status_code == 200
        assert httpx.get(f"{sibling}/orders", headers=auth).json()["code"] == "session_revoked"


@pytest.mark.django_db
def test_a_verifier_never_rebuilds_and_never_queries_a_database(api, user, token_settings, django_assert_num_queries):
    token_settings(**signing.config("ES256"))
    access = login(api, user.email)["access"]
    token_settings(**signing.verifier_config("ES256"), ROLE="verifier")
    with django_assert_num_queries(0):
        assert api.get(WHOAMI, **bearer(access)).status_code == 200
    redis_client_module.get_redis().delete(revocation.MARKER_KEY)
    with django_assert_num_queries(0):
        response = api.get(WHOAMI, **bearer(access))
    assert response.status_code == 503 and error_code(response) == "auth_unavailable"
    assert redis_client_module.get_redis().get(revocation.MARKER_KEY) is None


@pytest.mark.django_db
def test_a_verifier_ignores_the_database_fallback(api, user, token_settings):
    token_settings(**signing.config("ES256"))
    access = login(api, user.email)["access"]
    token_settings(
        **signing.verifier_config("ES256"),
        ROLE="verifier",
        REVOCATION_FAILURE_MODE="database",
        REDIS_URL="redis://127.0.0.1:1/0",
        REDIS_SOCKET_TIMEOUT=0.5,
    )
    assert api.get(WHOAMI, **bearer(access)).status_code == 503


def test_the_verifier_role_with_database_fallback_fails_the_check(token_settings):
    from tokens import checks

    token_settings(ROLE="verifier", REVOCATION_FAILURE_MODE="database")
    assert [e.id for e in checks.verifier_role_check()] == ["tokens.E006", "tokens.W001"]
    token_settings(ROLE="verifier", REVOCATION_FAILURE_MODE="closed", AUDIENCE="orders", ISSUER="https://a.test")
    assert checks.verifier_role_check() == []


def test_a_verifier_fetches_its_jwks_at_start_up_and_only_over_https(settings):
    import os
    import subprocess
    import sys

    from tests.servers import BASE_DIR

    env = {
        **os.environ,
        **{k: v for k, v in _sibling_env(settings).items() if k.isupper()},
        "FLOWAUTH_PUBLIC_KEYS": "{}",
        "FLOWAUTH_JWKS_URL": "http://127.0.0.1:1/jwks.json",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "JWKS_URL must be an https:// URL" in result.stderr


@pytest.mark.live_server_process
@pytest.mark.django_db(transaction=True)
def test_the_sibling_reads_amr_and_auth_time_to_demand_a_second_factor(settings):
    import pyotp

    user = make_user("payouts@example.com")
    with gunicorn(**_flowauth_env()) as flowauth, gunicorn(workers=1, threads=2, **_sibling_env(settings)) as sibling:
        tokens = httpx.post(f"{flowauth}/api/auth/login", json={"email": user.email, "password": PASSWORD}).json()
        auth = {"Authorization": f"Bearer {tokens['access']}"}
        refused = httpx.get(f"{sibling}/payouts", headers=auth)
        assert refused.status_code == 403 and refused.json()["code"] == "reauth_required"
        secret = httpx.post(f"{flowauth}/api/auth/mfa/totp", headers=auth).json()["secret"]
        confirmed = httpx.post(
            f"{flowauth}/api/auth/mfa/totp/confirm", headers=auth, json={"code": pyotp.TOTP(secret).now()}
        )
        assert confirmed.status_code == 200
        import time

        stepped = httpx.post(
            f"{flowauth}/api/auth/reauth",
            headers=auth,
            json={"password": PASSWORD, "code": pyotp.TOTP(secret).at(time.time() + 30)},
        )
        assert stepped.status_code == 200, stepped.text
        ok = httpx.get(f"{sibling}/payouts", headers={"Authorization": f"Bearer {stepped.json()['access']}"})
        assert ok.status_code == 200, ok.text
        assert ok.json()["amr"] == ["pwd", "otp"] and isinstance(ok.json()["auth_time"], int)
