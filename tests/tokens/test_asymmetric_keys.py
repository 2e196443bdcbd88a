"""Asymmetric signing: kid-selected keys, one algorithm per key, and the forgeries it refuses."""

import builtins
import http.server
import json
import socket
import threading

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenError

from tests import signing
from tests.helpers import bearer, error_code, login
from tokens import checks, keys
from tokens.jwt import get_keyset

pytestmark = pytest.mark.django_db

WHOAMI = "/api/auth/whoami"
ALGORITHMS = ["RS256", "ES256", "EdDSA"]


@pytest.fixture(params=ALGORITHMS)
def asymmetric(request, token_settings):
    """Token settings signing with key "a" of each asymmetric algorithm; yields the algorithm."""
    token_settings(**signing.config(request.param))
    return request.param


@pytest.fixture
def access(api, user, asymmetric):
    return login(api, user.email)["access"]


def _status_and_code(api, token):
    response = api.get(WHOAMI, **bearer(token))
    return response.status_code, error_code(response) if response.status_code != 200 else None


def test_tokens_carry_the_kid_of_the_signing_key_and_verify(api, access, asymmetric):
    header = pyjwt.get_unverified_header(access)
    assert header["alg"] == asymmetric
    assert header["kid"] == signing.kid_of(signing.private_key(asymmetric), asymmetric)
    assert api.get(WHOAMI, **bearer(access)).status_code == 200


def test_the_default_kid_is_the_rfc_7638_thumbprint():
    # RFC 7638 section 3.1's example key and its published thumbprint.
    jwk = {
        "kty": "RSA",
        "e": "AQAB",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMs"
            "tn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5"
            "hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        ),
    }
    key = keys.load_public_key(jwk, "RS256")
    assert keys.thumbprint(key, "RS256") == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_a_configured_kid_is_used_instead_of_the_thumbprint(api, user, token_settings):
    token_settings(**{**signing.config("ES256"), "SIGNING_KID": "2026-11"})
    access = login(api, user.email)["access"]
    assert pyjwt.get_unverified_header(access)["kid"] == "2026-11"
    assert api.get(WHOAMI, **bearer(access)).status_code == 200


# JWT-02 / JWT-22: HS256 forged with public-key material or the Django secrets.


def test_hs256_with_the_public_key_in_any_form_as_secret_is_refused(api, access, asymmetric, settings):
    key = signing.private_key(asymmetric)
    jwks_entry = api.get("/.well-known/jwks.json").json()["keys"][0]
    secrets = {
        **signing.public_key_forms(key),
        **signing.jwk_forms(jwks_entry),
        "secret_key": settings.SECRET_KEY.encode(),
        "hmac_signing_key": settings.FLOWAUTH_TOKENS["SIGNING_KEY"].encode(),
    }
    kid = pyjwt.get_unverified_header(access)["kid"]
    for name, secret in secrets.items():
        for header in ({"alg": "HS256", "typ": "JWT"}, {"alg": "HS256", "typ": "JWT", "kid": kid}):
            forged = signing.hs256_with_raw_secret(access, secret, header)
            assert _status_and_code(api, forged) == (401, "token_invalid"), name


# JWT-03: the right key under another algorithm of its family.


def test_ps256_with_the_rs256_key_is_refused(api, user, token_settings):
    token_settings(**signing.config("RS256"))
    access = login(api, user.email)["access"]
    key = signing.private_key("RS256")
    kid = signing.kid_of(key, "RS256")
    for algorithm in ("PS256", "RS384", "RS512"):
        forged = signing.sign(access, key, algorithm, kid=kid)
        assert _status_and_code(api, forged) == (401, "token_invalid"), algorithm


def test_es384_style_mismatch_and_hs_variants_are_refused(api, access, asymmetric):
    kid = pyjwt.get_unverified_header(access)["kid"]
    for algorithm in ("HS256", "HS384", "HS512"):
        forged = signing.hs256_with_raw_secret(access, b"x" * 64, {"alg": algorithm, "kid": kid})
        assert _status_and_code(api, forged) == (401, "token_invalid"), algorithm


def test_no_decode_call_passes_several_algorithms():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for path in list((root / "tokens").rglob("*.py")) + list((root / "accounts").rglob("*.py")):
        source = path.read_text()
        assert "get_default_algorithms()" not in source.replace("get_default_algorithms()[name]", ""), path
        assert 'verify_signature": False' not in source, path


# JWT-11: kid is validated, then only indexes the configured map.

BAD_KIDS = [
    "../../../../dev/null",
    "' OR '1'='1",
    "${jndi:ldap://x}",
    "k" * 10_240,
    1,
    {"a": 1},
    ["a"],
    None,
    "unknown-kid",
    "",
]


@pytest.mark.parametrize("kid", BAD_KIDS, ids=range(len(BAD_KIDS)))
def test_a_bad_or_unknown_kid_is_token_invalid(api, user, token_settings, kid):
    token_settings(**signing.config("ES256"))
    access = login(api, user.email)["access"]
    forged = signing.sign(access, signing.private_key("ES256"), "ES256", kid=kid)
    assert _status_and_code(api, forged) == (401, "token_invalid")


def test_a_missing_kid_is_token_invalid(api, user, token_settings):
    token_settings(**signing.config("ES256"))
    access = login(api, user.email)["access"]
    forged = signing.sign(access, signing.private_key("ES256"), "ES256")
    assert _status_and_code(api, forged) == (401, "token_invalid")


def test_decoding_a_bad_kid_touches_no_file_and_no_socket(api, user, token_settings, monkeypatch):
    from tokens.jwt import AccessToken

    token_settings(**signing.config("ES256"))
    access = login(api, user.email)["access"]
    get_keyset()  # keys loaded before the watch starts
    forged = [signing.sign(access, signing.private_key("ES256"), "ES256", kid=kid) for kid in BAD_KIDS]
    touched = []
    monkeypatch.setattr(builtins, "open", lambda *a, **k: touched.append(("open", a)))
    monkeypatch.setattr(socket.socket, "connect", lambda *a, **k: touched.append(("connect", a)))
    for token in forged:
        with pytest.raises(TokenError):
            AccessToken(token)
    assert touched == []


# JWT-12 / JWT-13: key material named in the header is never followed.


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    requests: list = []

    def do_GET(self):  # noqa: N802
        self.requests.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(json.dumps({"keys": [ATTACKER_JWK]}).encode())

    def log_message(self, *args):
        pass


ATTACKER_JWK: dict = {}


def test_jku_and_x5u_are_never_fetched(api, user, token_settings):
    token_settings(**signing.config("ES256"))
    access = login(api, user.email)["access"]
    attacker = signing.private_key("ES256", "attacker")
    ATTACKER_JWK.update(keys.public_jwk(attacker.public_key(), "ES256"), kid="evil")
    server = http.server.HTTPServer(("127.0.0.1", 0), _RecordingHandler)
    _RecordingHandler.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/jwks.json"
        for member in ("jku", "x5u"):
            forged = signing.sign(access, attacker, "ES256", kid="evil", **{member: url})
            assert _status_and_code(api, forged) == (401, "token_invalid")
    finally:
        server.shutdown()
    assert _RecordingHandler.requests == []


def test_an_embedded_jwk_or_x5c_is_refused(api, user, token_settings):
    token_settings(**signing.config("ES256"))
    access = login(api, user.email)["access"]
    attacker = signing.private_key("ES256", "attacker")
    jwk = keys.public_jwk(attacker.public_key(), "ES256")
    kid = signing.kid_of(attacker, "ES256")
    for extra in ({"jwk": jwk}, {"x5c": ["MIIB"]}):
        forged = signing.sign(access, attacker, "ES256", kid=kid, **extra)
        assert _status_and_code(api, forged) == (401, "token_invalid")


# JWT-20: rotation without logging anyone out.


def test_key_rotation_keeps_old_tokens_while_the_old_key_is_listed(api, user, token_settings):
    token_settings(**signing.config("ES256", signer="a"))
    old_access = login(api, user.email)["access"]
    token_settings(**signing.config("ES256", signer="b", listed=("a",)))
    assert api.get(WHOAMI, **bearer(old_access)).status_code == 200
    new_access = login(api, user.email)["access"]
    assert pyjwt.get_unverified_header(new_access)["kid"] == signing.kid_of(signing.private_key("ES256", "b"), "ES256")
    token_settings(**signing.config("ES256", signer="b"))
    assert _status_and_code(api, old_access) == (401, "token_invalid")
    assert api.get(WHOAMI, **bearer(new_access)).status_code == 200


def test_header_kid_a_signed_with_key_b_is_refused(api, user, token_settings):
    token_settings(**signing.config("ES256", signer="b", listed=("a",)))
    access = login(api, user.email)["access"]
    kid_a = signing.kid_of(signing.private_key("ES256", "a"), "ES256")
    forged = signing.sign(access, signing.private_key("ES256", "b"), "ES256", kid=kid_a)
    assert _status_and_code(api, forged) == (401, "token_invalid")


def test_a_verifier_without_a_private_key_verifies_but_cannot_sign(api, user, token_settings):
    token_settings(**signing.config("ES256"))
    access = login(api, user.email)["access"]
    token_settings(**signing.verifier_config("ES256"))
    assert api.get(WHOAMI, **bearer(access)).status_code == 200
    response = api.post("/api/auth/login", {"email": user.email, "password": "x" * 12}, format="json")
    assert response.status_code == 401


# JWT-05 / CFG-05: weak keys fail the checks.


def test_a_short_hmac_key_fails_the_check_with_debug_off(settings, token_settings):
    settings.DEBUG = False
    token_settings(ALGORITHM="HS256", SIGNING_KEY="short-key")
    assert [e.id for e in checks.signing_key_check()] == ["tokens.E001"]


@pytest.mark.parametrize("key, error", [("django-insecure-" + "x" * 40, "tokens.E002"), ("secret", "tokens.E001")])
def test_a_known_default_hmac_key_fails_the_check(settings, token_settings, key, error):
    settings.DEBUG = False
    token_settings(ALGORITHM="HS256", SIGNING_KEY=key)
    assert [e.id for e in checks.signing_key_check()] == [error]


def test_the_secret_key_as_hmac_key_fails_the_check(settings, token_settings):
    settings.DEBUG = False
    token_settings(ALGORITHM="HS256", SIGNING_KEY=settings.SECRET_KEY)
    assert [e.id for e in checks.signing_key_check()] == ["tokens.E002"]


def test_the_configured_test_key_passes_the_check(settings):
    settings.DEBUG = False
    assert checks.signing_key_check() == []


def test_rsa_keys_under_2048_bits_are_refused(token_settings):
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    token_settings(ALGORITHM="RS256", PRIVATE_KEY=keys.private_pem(weak), PUBLIC_KEYS={})
    assert [e.id for e in checks.signing_key_check()] == ["tokens.E003"]
    with pytest.raises(ImproperlyConfigured):
        get_keyset()


def test_a_key_of_the_wrong_type_is_refused(token_settings):
    token_settings(ALGORITHM="ES256", PRIVATE_KEY=keys.private_pem(signing.private_key("EdDSA")), PUBLIC_KEYS={})
    assert [e.id for e in checks.signing_key_check()] == ["tokens.E003"]


def test_a_public_jwk_with_private_members_is_refused():
    jwk = pyjwt.algorithms.ECAlgorithm.to_jwk(signing.private_key("ES256"), as_dict=True)
    with pytest.raises(ImproperlyConfigured):
        keys.load_public_key(jwk, "ES256")


# The key generator.


def test_generate_signing_key_prints_a_usable_configuration(api, user, token_settings, capsys, tmp_path):
    target = tmp_path / "private.pem"
    call_command("generate_signing_key", "--algorithm", "ES256", "--private-key-file", str(target))
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines() if "=" in line)
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert "d" not in json.loads(lines["JWKS"])["keys"][0]
    token_settings(
        ALGORITHM=lines["JWT_ALGORITHM"],
        PRIVATE_KEY=target.read_text(),
        PUBLIC_KEYS=json.loads(lines["JWT_PUBLIC_KEYS"]),
        SIGNING_KID=lines["JWT_KEY_ID"],
    )
    access = login(api, user.email)["access"]
    assert pyjwt.get_unverified_header(access)["kid"] == lines["JWT_KEY_ID"]
    assert api.get(WHOAMI, **bearer(access)).status_code == 200


def test_jwks_url_must_be_https_and_is_fetched_once(token_settings, monkeypatch):
    with pytest.raises(ImproperlyConfigured):
        keys.fetch_jwks("http://127.0.0.1:1/jwks.json")
    key = signing.private_key("ES256")
    document = {"keys": [{**keys.public_jwk(key.public_key(), "ES256"), "kid": "k1"}]}
    fetched = []
    monkeypatch.setattr(keys, "fetch_jwks", lambda url: fetched.append(url) or document)
    token_settings(ALGORITHM="ES256", PRIVATE_KEY="", PUBLIC_KEYS={}, JWKS_URL="https://auth.example/jwks-once.json")
    assert list(get_keyset().verifying_keys) == ["k1"]
    unknown = pyjwt.encode({"a": 1}, key, algorithm="ES256", headers={"kid": "other"})
    from tokens.jwt import get_backend

    for _ in range(3):
        with pytest.raises(TokenBackendError):
            get_backend().decode(unknown)
    assert fetched == ["https://auth.example/jwks-once.json"]
