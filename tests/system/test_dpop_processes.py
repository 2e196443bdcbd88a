"""DPoP across real server processes: one replay store and one nonce for the whole deployment."""

import httpx
import pytest

from tests.helpers import PASSWORD, make_user
from tests.servers import gunicorn
from tests.system.test_sibling_service import _flowauth_env, _sibling_env
from tokens.dpop_client import DPoPClient, DPoPKey

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live_server_process]

WHOAMI = "/api/auth/whoami"


def _call(base: str, key: DPoPKey, access: str, proof: str | None = None, path: str = WHOAMI) -> httpx.Response:
    proof = proof or key.proof("GET", base + path, access_token=access)
    return httpx.get(base + path, headers={"Authorization": f"DPoP {access}", "DPoP": proof})


def test_a_proof_used_on_one_server_is_refused_on_another_and_nonces_cross_processes():
    user = make_user("dpop-multi@example.com")
    key = DPoPKey("ES256")
    with (
        gunicorn(workers=1, threads=2, DPOP_NONCE=1) as server_a,
        gunicorn(workers=1, threads=2, DPOP_NONCE=1) as server_b,
    ):
        with httpx.Client() as transport:
            client = DPoPClient(transport, server_a, key)
            assert client.login(user.email, PASSWORD).status_code == 200  # after one use_dpop_nonce round
            nonce_from_a = client.nonce
            access = client.access
            # The nonce server A handed out is good on server B.
            on_b = _call(
                server_b, key, access, key.proof("GET", server_b + WHOAMI, access_token=access, nonce=nonce_from_a)
            )
            assert on_b.status_code == 200, on_b.text
            # A proof made for server B's URL, used there, then replayed there or sent to A: refused.
            proof = key.proof("GET", server_b + WHOAMI, access_token=access, nonce=nonce_from_a)
            assert _call(server_b, key, access, proof).status_code == 200
            replay = _call(server_b, key, access, proof)
            assert replay.status_code == 401 and replay.json()["code"] == "invalid_dpop_proof"
            assert replay.headers["WWW-Authenticate"].startswith("DPoP ")
            # Same origin, another process: the jti is shared through Redis.
            same_url_proof = key.proof("GET", server_a + WHOAMI, access_token=access, nonce=nonce_from_a)
            assert _call(server_a, key, access, same_url_proof).status_code == 200
            assert _call(server_a, key, access, same_url_proof).status_code == 401
            # Refresh on B with the key bound on A.
            client.base_url = server_b
            refreshed = client.refresh()
            assert refreshed.status_code == 200 and refreshed.json()["token_type"] == "DPoP"
            assert client.get(WHOAMI).status_code == 200


def test_a_sibling_service_verifies_bound_tokens_and_shares_the_replay_store(settings):
    user = make_user("dpop-sibling@example.com")
    key = DPoPKey("EdDSA")
    with (
        gunicorn(workers=1, threads=2, **_flowauth_env()) as flowauth,
        gunicorn(workers=1, threads=2, **_sibling_env(settings)) as sibling,
    ):
        with httpx.Client() as transport:
            client = DPoPClient(transport, flowauth, key)
            assert client.login(user.email, PASSWORD).status_code == 200
            access = client.access
            proof = key.proof("GET", sibling + "/orders", access_token=access)
            ok = _call(sibling, key, access, proof, path="/orders")
            assert ok.status_code == 200, ok.text
            assert _call(sibling, key, access, proof, path="/orders").json()["code"] == "invalid_dpop_proof"
            bearer = httpx.get(sibling + "/orders", headers={"Authorization": f"Bearer {access}"})
            assert bearer.status_code == 401 and bearer.json()["code"] == "invalid_dpop_proof"
            assert client.post("/api/auth/logout").status_code == 204
            ended = _call(sibling, key, access, path="/orders")
            assert ended.status_code == 401 and ended.json()["code"] == "session_revoked"
