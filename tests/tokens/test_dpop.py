"""DPoP (RFC 9449): bound sessions, proofs, nonces, replay, no downgrade (docs/security.md DPOP-01..06)."""

import hashlib
import hmac
import json
from datetime import timedelta

import jwt as pyjwt
import pytest
import time_machine
from django.utils import timezone

from tests import helpers
from tokens import dpop
from tokens.dpop_client import DjangoTransport, DPoPClient, DPoPKey
from tokens.models import Session

pytestmark = pytest.mark.django_db

BASE = "http://testserver"
ME = BASE + "/api/auth/whoami"
LOGIN = BASE + "/api/auth/login"
REFRESH = BASE + "/api/auth/refresh"


@pytest.fixture(scope="module")
def keys():
    return {alg: DPoPKey(alg) for alg in dpop.ALGORITHMS} | {"other": DPoPKey("ES256")}


@pytest.fixture
def key(keys):
    return keys["ES256"]


def proof_header(proof: str) -> dict:
    return {"HTTP_DPOP": proof}


def bound_login(api, user, key, **extra):
    response = api.post(
        "/api/auth/login",
        {"email": user.email, "password": helpers.PASSWORD},
        format="json",
        **proof_header(key.proof("POST", LOGIN)),
        **extra,
    )
    assert response.status_code == 200, response.content
    return response.json()


def get_me(api, access, proof):
    return api.get("/api/auth/whoami", HTTP_AUTHORIZATION=f"DPoP {access}", **proof_header(proof))


def assert_dpop_refusal(response, error="invalid_dpop_proof"):
    assert response.status_code == 401, response.content
    assert helpers.error_code(response) == error
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith("DPoP ") and f'error="{error}"' in challenge
    assert 'algs="ES256 EdDSA RS256"' in challenge


# --- DPOP-01: binding ------------------------------------------------------


@pytest.mark.parametrize("alg", list(dpop.ALGORITHMS))
def test_login_with_a_proof_binds_the_session_to_the_key(api, user, keys, alg):
    key = keys[alg]
    body = bound_login(api, user, key)
    assert body["token_type"] == "DPoP"
    assert helpers.claims(body["access"])["cnf"] == {"jkt": key.jkt}
    assert helpers.claims(body["refresh"])["cnf"] == {"jkt": key.jkt}
    assert Session.objects.get().dpop_jkt == key.jkt
    assert get_me(api, body["access"], key.proof("GET", ME, access_token=body["access"])).status_code == 200


def test_thumbprint_is_rfc_7638(key):
    # RFC 7638 section 3.1's example key and thumbprint.
    jwk = {
        "kty": "RSA",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknj"
            "hMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6"
            "qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8aw"
            "apJzKnqDKgw"
        ),
    }
    assert dpop.jwk_thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_register_with_a_proof_binds_the_first_session(api, key):
    url = BASE + "/api/auth/register"
    response = api.post(
        "/api/auth/register",
        {"email": "new@example.com", "password": helpers.PASSWORD},
        format="json",
        **proof_header(key.proof("POST", url)),
    )
    assert response.status_code == 201, response.content
    assert helpers.claims(response.json()["access"])["cnf"]["jkt"] == key.jkt


def test_register_with_a_bad_proof_creates_no_account(api, key):
    from accounts.models import User

    response = api.post(
        "/api/auth/register",
        {"email": "new@example.com", "password": helpers.PASSWORD},
        format="json",
        **proof_header(key.proof("POST", LOGIN)),
    )  # proof for another URL
    assert_dpop_refusal(response)
    assert not User.objects.filter(email="new@example.com").exists()


def test_bound_and_unbound_sessions_coexist(api, user, key):
    bound = bound_login(api, user, key)
    plain = helpers.login(api, user.email)
    assert "token_type" not in plain and "cnf" not in helpers.claims(plain["access"])
    assert api.get("/api/auth/whoami", **helpers.bearer(plain["access"])).status_code == 200
    assert get_me(api, bound["access"], key.proof("GET", ME, access_token=bound["access"])).status_code == 200


def test_dpop_required_refuses_unbound_logins(api, user, key, token_settings):
    token_settings(DPOP_REQUIRED=True)
    response = api.post("/api/auth/login", {"email": user.email, "password": helpers.PASSWORD}, format="json")
    assert_dpop_refusal(response)
    assert not Session.objects.exists()
    assert bound_login(api, user, key)["token_type"] == "DPoP"


# --- DPOP-02 / DPOP-03: resource requests ----------------------------------


def _forged(key, *, header=None, payload=None, signing_key=None, alg=None):
    head = {"typ": "dpop+jwt", "jwk": key.jwk, **(header or {})}
    claims = {
        "jti": "j-" + str(id(head)),
        "htm": "GET",
        "htu": ME,
        "iat": int(timezone.now().timestamp()),
        **(payload or {}),
    }
    return pyjwt.encode(claims, signing_key or key.private_key, algorithm=alg or key.alg, headers=head)


def _unsigned(header: dict, payload: dict) -> str:
    return f"{helpers.b64(header)}.{helpers.b64(payload)}."


def _hs256(header: dict, payload: dict, secret: bytes) -> str:
    signing_input = f"{helpers.b64(header)}.{helpers.b64(payload)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{helpers.b64(mac)}"


BAD_PROOFS = {
    "wrong htm": lambda k, at: k.proof("POST", ME, access_token=at),
    "other url": lambda k, at: k.proof("GET", BASE + "/api/auth/sessions", access_token=at),
    "other host": lambda k, at: k.proof("GET", "http://evil.example/api/auth/whoami", access_token=at),
    "other scheme": lambda k, at: k.proof("GET", "https://testserver/api/auth/whoami", access_token=at),
    "stale iat": lambda k, at: k.proof("GET", ME, access_token=at, iat=int(timezone.now().timestamp()) - 61),
    "future iat": lambda k, at: k.proof("GET", ME, access_token=at, iat=int(timezone.now().timestamp()) + 60),
    "iat as string": lambda k, at: k.proof("GET", ME, access_token=at, iat=str(int(timezone.now().timestamp()))),
    "iat as float": lambda k, at: k.proof("GET", ME, access_token=at, iat=timezone.now().timestamp()),
    "no ath": lambda k, at: k.proof("GET", ME),
    "wrong ath": lambda k, at: k.proof("GET", ME, access_token=at + "x"),
    "jti not a string": lambda k, at: k.proof("GET", ME, access_token=at, jti=12345),
    "htu not a string": lambda k, at: k.proof("GET", ME, access_token=at, htu=["x"]),
    "typ jwt": lambda k, at: pyjwt.encode(
        {
            "jti": "x1",
            "htm": "GET",
            "htu": ME,
            "iat": int(timezone.now().timestamp()),
            "ath": dpop.access_token_hash(at),
        },
        k.private_key,
        algorithm="ES256",
        headers={"typ": "JWT", "jwk": k.jwk},
    ),
    "alg none": lambda k, at: _unsigned(
        {"typ": "dpop+jwt", "alg": "none", "jwk": k.jwk},
        {
            "jti": "x2",
            "htm": "GET",
            "htu": ME,
            "iat": int(timezone.now().timestamp()),
            "ath": dpop.access_token_hash(at),
        },
    ),
    "alg HS256 with the jwk as secret": lambda k, at: _hs256(
        {"typ": "dpop+jwt", "alg": "HS256", "jwk": k.jwk},
        {
            "jti": "x3",
            "htm": "GET",
            "htu": ME,
            "iat": int(timezone.now().timestamp()),
            "ath": dpop.access_token_hash(at),
        },
        json.dumps(k.jwk).encode(),
    ),
    "private key in jwk": lambda k, at: pyjwt.encode(
        {
            "jti": "x4",
            "htm": "GET",
            "htu": ME,
            "iat": int(timezone.now().timestamp()),
            "ath": dpop.access_token_hash(at),
        },
        k.private_key,
        algorithm="ES256",
        headers={"typ": "dpop+jwt", "jwk": json.loads(pyjwt.algorithms.ECAlgorithm.to_jwk(k.private_key))},
    ),
    "no jwk": lambda k, at: pyjwt.encode(
        {
            "jti": "x5",
            "htm": "GET",
            "htu": ME,
            "iat": int(timezone.now().timestamp()),
            "ath": dpop.access_token_hash(at),
        },
        k.private_key,
        algorithm="ES256",
        headers={"typ": "dpop+jwt"},
    ),
    "malformed jwk": lambda k, at: pyjwt.encode(
        {
            "jti": "x6",
            "htm": "GET",
            "htu": ME,
            "iat": int(timezone.now().timestamp()),
            "ath": dpop.access_token_hash(at),
        },
        k.private_key,
        algorithm="ES256",
        headers={"typ": "dpop+jwt", "jwk": {**k.jwk, "x": "!!not base64!!"}},
    ),
    "jwk of another key type": lambda k, at: pyjwt.encode(
        {
            "jti": "x7",
            "htm": "GET",
            "htu": ME,
            "iat": int(timezone.now().timestamp()),
            "ath": dpop.access_token_hash(at),
        },
        k.private_key,
        algorithm="ES256",
        headers={"typ": "dpop+jwt", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": k.jwk["x"]}},
    ),
    "jwk is a string": lambda k, at: pyjwt.encode(
        {
            "jti": "x8",
            "htm": "GET",
            "htu": ME,
            "iat": int(timezone.now().timestamp()),
            "ath": dpop.access_token_hash(at),
        },
        k.private_key,
        algorithm="ES256",
        headers={"typ": "dpop+jwt", "jwk": json.dumps(k.jwk)},
    ),
    "jku header": lambda k, at: pyjwt.encode(
        {
            "jti": "x9",
            "htm": "GET",
            "htu": ME,
            "iat": int(timezone.now().timestamp()),
            "ath": dpop.access_token_hash(at),
        },
        k.private_key,
        algorithm="ES256",
        headers={"typ": "dpop+jwt", "jwk": k.jwk, "jku": "https://evil.example/jwks"},
    ),
    "signature by another key": lambda k, at: pyjwt.encode(
        {
            "jti": "x10",
            "htm": "GET",
            "htu": ME,
            "iat": int(timezone.now().timestamp()),
            "ath": dpop.access_token_hash(at),
        },
        DPoPKey("ES256").private_key,
        algorithm="ES256",
        headers={"typ": "dpop+jwt", "jwk": k.jwk},
    ),
    "oversized": lambda k, at: k.proof("GET", ME, access_token=at, pad="x" * 5000),
    "two proofs joined": lambda k, at: k.proof("GET", ME, access_token=at) + "," + k.proof("GET", ME, access_token=at),
}


@pytest.mark.parametrize("case", list(BAD_PROOFS))
def test_a_bad_proof_is_refused_with_a_dpop_challenge(api, user, key, case):
    access = bound_login(api, user, key)["access"]
    assert_dpop_refusal(get_me(api, access, BAD_PROOFS[case](key, access)))
    assert get_me(api, access, key.proof("GET", ME, access_token=access)).status_code == 200  # token still good


def test_no_proof_is_refused(api, user, key):
    access = bound_login(api, user, key)["access"]
    assert_dpop_refusal(api.get("/api/auth/whoami", HTTP_AUTHORIZATION=f"DPoP {access}"))


def test_a_proof_by_key_b_for_a_token_bound_to_key_a_is_refused(api, user, keys):
    access = bound_login(api, user, keys["ES256"])["access"]
    assert_dpop_refusal(get_me(api, access, keys["other"].proof("GET", ME, access_token=access)))


def test_a_replayed_proof_is_refused(api, user, key):
    access = bound_login(api, user, key)["access"]
    proof = key.proof("GET", ME, access_token=access)
    assert get_me(api, access, proof).status_code == 200
    assert_dpop_refusal(get_me(api, access, proof))


def test_proof_age_boundaries_follow_the_clock(api, user, key, token_settings):
    token_settings(DPOP_PROOF_MAX_AGE=30)
    access = bound_login(api, user, key)["access"]
    now = timezone.now()
    proof = key.proof("GET", ME, access_token=access, iat=int(now.timestamp()))
    with time_machine.travel(now + timedelta(seconds=31), tick=False):
        assert_dpop_refusal(get_me(api, access, proof))
    with time_machine.travel(now + timedelta(seconds=29), tick=False):
        assert get_me(api, access, proof).status_code == 200


def test_htu_is_compared_normalised(api, user, key):
    access = bound_login(api, user, key)["access"]
    for htu in ("HTTP://TestServer:80/api/auth/whoami?x=1#frag", "http://testserver/api/auth/whoami#f"):
        assert get_me(api, access, key.proof("GET", htu, access_token=access, htu=htu)).status_code == 200
    assert_dpop_refusal(
        get_me(api, access, key.proof("GET", ME, access_token=access, htu="http://testserver:8080/api/auth/whoami"))
    )
    assert_dpop_refusal(
        get_me(api, access, key.proof("GET", ME, access_token=access, htu="http://testserver/api/auth/WHOAMI"))
    )


def test_forwarded_host_counts_only_when_trusted(api, user, key, settings):
    settings.ALLOWED_HOSTS = ["testserver", "auth.example.com"]
    access = bound_login(api, user, key)["access"]
    forged = key.proof("GET", "https://auth.example.com/api/auth/whoami", access_token=access)
    headers = {"HTTP_X_FORWARDED_HOST": "auth.example.com", "HTTP_X_FORWARDED_PROTO": "https"}
    # Not trusted by default: the server's own view (http://testserver) is what the proof must name.
    assert_dpop_refusal(
        api.get("/api/auth/whoami", HTTP_AUTHORIZATION=f"DPoP {access}", **proof_header(forged), **headers)
    )
    settings.USE_X_FORWARDED_HOST = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    trusted = key.proof("GET", "https://auth.example.com/api/auth/whoami", access_token=access)
    response = api.get("/api/auth/whoami", HTTP_AUTHORIZATION=f"DPoP {access}", **proof_header(trusted), **headers)
    assert response.status_code == 200, response.content


def test_an_unbound_token_sent_as_dpop_is_refused(api, user, key):
    plain = helpers.login(api, user.email)
    response = get_me(api, plain["access"], key.proof("GET", ME, access_token=plain["access"]))
    assert response.status_code == 401 and helpers.error_code(response) == "token_invalid"


# --- DPOP-04: no downgrade -------------------------------------------------


def test_a_bound_access_token_as_bearer_is_refused(api, user, key):
    access = bound_login(api, user, key)["access"]
    response = api.get("/api/auth/whoami", **helpers.bearer(access))
    assert_dpop_refusal(response)
    # Nor with a proof beside it: the scheme is what binds the proof to the token.
    response = api.get(
        "/api/auth/whoami", **helpers.bearer(access), **proof_header(key.proof("GET", ME, access_token=access))
    )
    assert response.status_code == 401


def test_a_bound_access_token_as_cookie_is_refused(api, user, key):
    from tokens import cookies

    access = bound_login(api, user, key)["access"]
    api.cookies[cookies.access_cookie_name()] = access
    assert api.get("/api/auth/whoami").status_code == 401


# --- DPOP-05: refresh ------------------------------------------------------


def test_refresh_needs_a_proof_by_the_bound_key(api, user, keys):
    key = keys["ES256"]
    refresh = bound_login(api, user, key)["refresh"]
    without = api.post("/api/auth/refresh", {"refresh": refresh}, format="json")
    assert_dpop_refusal(without)
    other = api.post(
        "/api/auth/refresh", {"refresh": refresh}, format="json", **proof_header(keys["other"].proof("POST", REFRESH))
    )
    assert_dpop_refusal(other)
    # Nothing was used up by the refusals: the right key still rotates, and stays bound.
    good = api.post(
        "/api/auth/refresh", {"refresh": refresh}, format="json", **proof_header(key.proof("POST", REFRESH))
    )
    assert good.status_code == 200, good.content
    assert good.json()["token_type"] == "DPoP"
    assert helpers.claims(good.json()["access"])["cnf"]["jkt"] == key.jkt


def test_an_unbound_session_cannot_be_bound_by_refreshing_with_a_proof(api, user, key):
    plain = helpers.login(api, user.email)
    response = api.post(
        "/api/auth/refresh", {"refresh": plain["refresh"]}, format="json", **proof_header(key.proof("POST", REFRESH))
    )
    assert response.status_code == 200
    assert "cnf" not in helpers.claims(response.json()["access"])


def test_a_refresh_proof_is_single_use(api, user, key):
    refresh = bound_login(api, user, key)["refresh"]
    proof = key.proof("POST", REFRESH)
    assert api.post("/api/auth/refresh", {"refresh": refresh}, format="json", **proof_header(proof)).status_code == 200
    replay = api.post("/api/auth/refresh", {"refresh": refresh}, format="json", **proof_header(proof))
    assert_dpop_refusal(replay)


def test_password_change_keeps_the_new_session_bound(api, user, key):
    access = bound_login(api, user, key)["access"]
    url = BASE + "/api/auth/profile/password"
    response = api.put(
        "/api/auth/profile/password",
        {"current_password": helpers.PASSWORD, "new_password": "another horse 42!"},
        format="json",
        HTTP_AUTHORIZATION=f"DPoP {access}",
        **proof_header(key.proof("PUT", url, access_token=access)),
    )
    assert response.status_code == 200, response.content
    assert helpers.claims(response.json()["access"])["cnf"]["jkt"] == key.jkt


# --- DPOP-06: nonces -------------------------------------------------------


def test_nonce_required_then_retry_succeeds(api, user, key, token_settings):
    token_settings(DPOP_NONCE=True)
    response = api.post(
        "/api/auth/login",
        {"email": user.email, "password": helpers.PASSWORD},
        format="json",
        **proof_header(key.proof("POST", LOGIN)),
    )
    assert_dpop_refusal(response, "use_dpop_nonce")
    nonce = response["DPoP-Nonce"]
    retry = api.post(
        "/api/auth/login",
        {"email": user.email, "password": helpers.PASSWORD},
        format="json",
        **proof_header(key.proof("POST", LOGIN, nonce=nonce)),
    )
    assert retry.status_code == 200 and retry["DPoP-Nonce"]
    access = retry.json()["access"]
    assert_dpop_refusal(
        get_me(api, access, key.proof("GET", ME, access_token=access, nonce="1.forged")), "use_dpop_nonce"
    )
    assert get_me(api, access, key.proof("GET", ME, access_token=access, nonce=nonce)).status_code == 200


def test_nonces_rotate(api, user, key, token_settings):
    token_settings(DPOP_NONCE=True, DPOP_NONCE_LIFETIME=60)
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        old = dpop.current_nonce()
    with time_machine.travel(now + timedelta(seconds=60), tick=False):
        assert dpop.nonce_is_valid(old) and dpop.current_nonce() != old
    with time_machine.travel(now + timedelta(seconds=121), tick=False):
        assert not dpop.nonce_is_valid(old)


def test_the_reference_client_follows_nonces_and_refreshes(api, user, key, token_settings):
    token_settings(DPOP_NONCE=True, ACCESS_TOKEN_LIFETIME=60)
    client = DPoPClient(DjangoTransport(api), BASE, key)
    assert client.login(user.email, helpers.PASSWORD).status_code == 200
    assert client.get("/api/auth/whoami").status_code == 200
    first = client.access
    with time_machine.travel(timezone.now() + timedelta(seconds=45)):
        assert client.get("/api/auth/whoami").status_code == 200  # refreshed first: under the margin
    assert client.access != first


# --- ending access, Redis --------------------------------------------------


@pytest.mark.parametrize("ending", ["logout", "logout-all"])
def test_a_bound_token_is_refused_once_its_session_ended(api, user, key, ending):
    access = bound_login(api, user, key)["access"]
    url = f"{BASE}/api/auth/{ending}"
    response = api.post(
        f"/api/auth/{ending}",
        HTTP_AUTHORIZATION=f"DPoP {access}",
        **proof_header(key.proof("POST", url, access_token=access)),
    )
    assert response.status_code == 204, response.content
    refused = get_me(api, access, key.proof("GET", ME, access_token=access))
    assert refused.status_code == 401 and helpers.error_code(refused) == "session_revoked"


def test_after_flushall_a_proof_signed_before_the_rebuild_is_refused(api, user, key, redis_client):
    """FLUSHALL loses the replay store: the rebuild stamps its time, and proofs signed before it
    (which may have been used) are refused; a new proof works, and revocations still hold."""
    from tokens import services

    now = timezone.now()
    with time_machine.travel(now, tick=False):
        access = bound_login(api, user, key)["access"]
        proof = key.proof("GET", ME, access_token=access)
        assert get_me(api, access, proof).status_code == 200
    redis_client.flushall()
    with time_machine.travel(now + timedelta(seconds=2), tick=False):
        assert_dpop_refusal(get_me(api, access, proof))  # the first request after the flush rebuilds
        assert_dpop_refusal(get_me(api, access, proof))  # and every later one reads the rebuild's time
        assert get_me(api, access, key.proof("GET", ME, access_token=access)).status_code == 200
        other = bound_login(api, user, key)
        services.revoke_session(Session.objects.get(pk=helpers.claims(other["access"])["sid"]), reason="logout")
    redis_client.flushall()
    with time_machine.travel(now + timedelta(seconds=4), tick=False):
        refused = get_me(api, other["access"], key.proof("GET", ME, access_token=other["access"]))
        assert helpers.error_code(refused) == "session_revoked"


def test_after_flushall_a_refresh_proof_signed_before_is_refused(api, user, key, redis_client):
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        refresh = bound_login(api, user, key)["refresh"]
        proof = key.proof("POST", REFRESH)
    redis_client.flushall()
    with time_machine.travel(now + timedelta(seconds=2), tick=False):
        stale = api.post("/api/auth/refresh", {"refresh": refresh}, format="json", **proof_header(proof))
        assert_dpop_refusal(stale)
        fresh = api.post(
            "/api/auth/refresh", {"refresh": refresh}, format="json", **proof_header(key.proof("POST", REFRESH))
        )
        assert fresh.status_code == 200, fresh.content


def test_redis_down_fails_closed_even_in_database_mode(api, user, key, token_settings):
    """The database can say whether a session ended, not whether a proof was used: no fallback."""
    from tests.servers import free_port

    bound = bound_login(api, user, key)
    plain = helpers.login(api, user.email)
    token_settings(
        REVOCATION_FAILURE_MODE="database", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", REDIS_SOCKET_TIMEOUT=0.5
    )
    assert api.get("/api/auth/whoami", **helpers.bearer(plain["access"])).status_code == 200
    response = get_me(api, bound["access"], key.proof("GET", ME, access_token=bound["access"]))
    assert response.status_code == 503 and helpers.error_code(response) == "auth_unavailable"
    refresh = api.post(
        "/api/auth/refresh", {"refresh": bound["refresh"]}, format="json", **proof_header(key.proof("POST", REFRESH))
    )
    assert refresh.status_code == 503


def test_introspection_and_sessions_list_report_the_binding(api, user, key, settings):
    body = bound_login(api, user, key)
    from tokens import oauth

    assert oauth.introspect(body["access"])["cnf"] == {"jkt": key.jkt}
    url = BASE + "/api/auth/sessions"
    response = api.get(
        "/api/auth/sessions",
        HTTP_AUTHORIZATION=f"DPoP {body['access']}",
        **proof_header(key.proof("GET", url, access_token=body["access"])),
    )
    assert response.status_code == 200, response.content
    sessions = response.json()
    sessions = sessions.get("results", sessions) if isinstance(sessions, dict) else sessions
    assert [s["bound"] for s in sessions] == [True]


def test_the_admin_session_list_shows_which_sessions_are_bound(client, user, key, api):
    from accounts.models import User

    bound_login(api, user, key)
    helpers.login(api, user.email)
    staff = User.objects.create_superuser(email="root@example.com", password=helpers.PASSWORD)
    client.force_login(staff)
    page = client.get("/admin/tokens/session/").content.decode()
    assert "DPoP-bound" in page
    assert page.count('alt="True"') == 1 and page.count('alt="False"') == 1
