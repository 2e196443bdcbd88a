"""Forged, tampered, mistimed, oversized and confusing tokens (docs/security.md section 1).

Complements tests/tokens/test_authentication.py, which covers alg=none, missing
claims, exp types and the basic malformed shapes: every case here is 401 with
the docs/api.md code, never a 5xx.
"""

import base64
import json
import time
from pathlib import Path

import jwt as pyjwt
import pytest
from django.conf import settings
from django.utils import timezone

from tests.helpers import b64, bearer, claims, error_code, resign
from tokens.settings import token_settings

pytestmark = pytest.mark.django_db

WHOAMI = "/api/auth/whoami"
REFRESH = "/api/auth/refresh"
BASE_DIR = Path(__file__).resolve().parents[2]


def whoami(api, token: str):
    return api.get(WHOAMI, HTTP_AUTHORIZATION=f"Bearer {token}")


def refresh(api, token: str):
    return api.post(REFRESH, {"refresh": token}, format="json")


def assert_refused(response, code="token_invalid"):
    assert response.status_code == 401, response.content
    assert error_code(response) == code
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def sign_raw(header: dict, payload_json: str, key: str | None = None) -> str:
    """A token whose payload is exactly ``payload_json`` (duplicate keys survive)."""
    import hashlib
    import hmac

    signing_input = f"{b64(header)}.{b64(payload_json.encode())}"
    digest = hmac.new((key or token_settings.SIGNING_KEY).encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(digest)}"


# --- algorithms and keys -------------------------------------------------------


def test_the_decoder_is_given_exactly_one_algorithm(api, session_tokens, monkeypatch):
    seen = []
    original = pyjwt.PyJWT.decode_complete

    def spy(self, jwt, key="", algorithms=None, *args, **kwargs):
        seen.append(list(algorithms or []))
        return original(self, jwt, key, algorithms, *args, **kwargs)

    monkeypatch.setattr(pyjwt.PyJWT, "decode_complete", spy)
    assert whoami(api, session_tokens["access"]).status_code == 200
    assert refresh(api, session_tokens["refresh"]).status_code == 200
    assert seen and all(algorithms == [token_settings.ALGORITHM] for algorithms in seen)


def test_no_code_outside_tests_lists_default_algorithms_or_skips_signatures():
    offending = []
    for path in BASE_DIR.glob("*/**/*.py"):
        if path.parts[len(BASE_DIR.parts)] in ("tests", ".venv", "var", "bench"):
            continue
        text = path.read_text()
        if "get_default_algorithms" in text or '"verify_signature": False' in text:
            offending.append(str(path))
    assert offending == []


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_same_secret_other_hmac_size_is_refused_at_refresh_too(api, session_tokens, algorithm):
    forged = pyjwt.encode(claims(session_tokens["refresh"]), token_settings.SIGNING_KEY, algorithm=algorithm)
    assert_refused(refresh(api, forged))


def test_a_token_signed_with_djangos_secret_key_is_refused(api, session_tokens):
    forged = pyjwt.encode(claims(session_tokens["access"]), settings.SECRET_KEY, algorithm="HS256")
    assert_refused(whoami(api, forged))


@pytest.mark.parametrize(
    "kid",
    [
        "unknown-key-id",
        "../../../../dev/null",
        "' OR '1'='1",
        "${jndi:ldap://127.0.0.1:9/x}",
        "k" * 10_000,
        7,
        {"a": 1},
        ["a"],
        None,
    ],
)
def test_forged_tokens_with_any_kid_are_refused_never_500(api, session_tokens, kid):
    # Built by hand: PyJWT itself refuses to encode a kid that is not a string.
    forged = sign_raw(
        {"alg": "HS256", "typ": "JWT", "kid": kid},
        json.dumps(claims(session_tokens["access"])),
        key="attacker-secret-attacker-secret-attacker-secret!!",
    )
    assert_refused(whoami(api, forged))


@pytest.mark.parametrize("header", [{"jwk": {"kty": "oct", "k": "YQ"}}, {"x5c": ["MIIB"]}, {"b64": False}])
def test_embedded_key_material_headers_are_refused(api, session_tokens, header):
    assert_refused(whoami(api, resign(session_tokens["access"], header=header)))


# --- tampering -----------------------------------------------------------------


@pytest.mark.parametrize("change", [{"token_type": "refresh"}, {"exp": 9_999_999_999}, {"sid": "0" * 32}])
def test_a_changed_claim_with_the_original_signature_is_refused(api, session_tokens, change):
    header, _, signature = session_tokens["access"].split(".")
    payload = {**claims(session_tokens["access"]), **change}
    assert_refused(whoami(api, f"{header}.{b64(payload)}.{signature}"))


def test_a_signature_taken_from_another_token_is_refused(api, user, session_tokens):
    from tests.helpers import login

    other = login(api, user.email)["access"]
    header, payload, _ = session_tokens["access"].split(".")
    assert_refused(whoami(api, f"{header}.{payload}.{other.split('.')[2]}"))


@pytest.mark.parametrize("cut", [1, 5, 43])
def test_a_truncated_signature_is_refused(api, session_tokens, cut):
    assert_refused(whoami(api, session_tokens["access"][:-cut]))


def test_an_empty_signature_is_refused(api, session_tokens):
    header, payload, _ = session_tokens["access"].split(".")
    assert_refused(whoami(api, f"{header}.{payload}."))


# --- token types ---------------------------------------------------------------


def test_an_access_token_posted_to_refresh_is_invalid(api, session_tokens):
    assert_refused(refresh(api, session_tokens["access"]))


def test_a_refresh_token_as_bearer_is_invalid(api, session_tokens):
    assert_refused(whoami(api, session_tokens["refresh"]))


# --- time ------------------------------------------------------------------------


def test_expired_is_token_expired_and_missing_exp_is_invalid(api, session_tokens):
    past = int(time.time()) - 10
    assert_refused(whoami(api, resign(session_tokens["access"], exp=past, iat=past - 60)), "token_expired")
    assert_refused(refresh(api, resign(session_tokens["refresh"], exp=past, iat=past - 60)), "token_expired")
    assert_refused(whoami(api, resign(session_tokens["access"], drop=["exp"])))


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_a_token_from_the_future_is_refused_beyond_the_leeway_and_accepted_within(
    api, session_tokens, token_settings, claim
):
    token_settings(LEEWAY=10)
    now = int(timezone.now().timestamp())
    assert_refused(whoami(api, resign(session_tokens["access"], **{claim: now + 10 + 5})))
    assert whoami(api, resign(session_tokens["access"], **{claim: now + 10 - 1})).status_code == 200


def test_expiry_within_the_leeway_is_accepted_and_past_it_refused(api, session_tokens, token_settings):
    token_settings(LEEWAY=10)
    now = int(timezone.now().timestamp())
    assert whoami(api, resign(session_tokens["access"], exp=now - 5)).status_code == 200
    assert_refused(whoami(api, resign(session_tokens["access"], exp=now - 12)), "token_expired")


# --- size and shape --------------------------------------------------------------


@pytest.mark.parametrize("size", [8 * 1024, 64 * 1024])
def test_oversized_tokens_in_the_refresh_body_are_refused_before_decoding(api, session_tokens, size, monkeypatch):
    decoded = []
    monkeypatch.setattr(pyjwt.PyJWT, "decode_complete", lambda *a, **k: decoded.append(1))
    header, payload, signature = session_tokens["refresh"].split(".")
    padded = f"{header}.{payload}{'A' * (size - len(session_tokens['refresh']))}.{signature}"
    response = refresh(api, padded)
    assert response.status_code in (400, 401)
    assert not decoded


def test_an_8_kb_bearer_token_is_refused_before_decoding(api, session_tokens):
    assert_refused(whoami(api, "eyJ" + "A" * 8192 + ".e30.sig"))


def _nested(depth: int) -> str:
    return base64.urlsafe_b64encode(("[" * depth + "]" * depth).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "raw",
    [
        "eyJhbGciOiJIUzI1NiJ9 .e30.c2ln",  # a space inside
        "eyJhbGciOiJIUzI1NiJ9\t.e30.c2ln",
        "eyJhbGciOiJIUzI1NiJ9.e30.c2ln=",
        "eyJhbGciOiJIUzI1NiJ9.e30.c2ln.x.y",  # JWE-shaped
        '{"payload":"e30","signatures":[]}',  # JWS JSON serialization
        f"{_nested(1400)}.e30.c2ln",  # deeply nested header
        f"{b64('é'.encode('utf-16'))}.e30.c2ln",
        b64(b'{"alg":"HS256"') + ".e30.c2ln",  # truncated JSON
    ],
)
def test_malformed_tokens_never_500(api, raw):
    response = api.get(WHOAMI, HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 401
    assert refresh(api, raw).status_code in (400, 401)


# --- duplicate members -----------------------------------------------------------


def test_duplicate_claims_resolve_to_the_last_value_everywhere(api, user, session_tokens):
    """RFC 7519: reject or take the lexically last; every consumer sees the same value."""
    from tests.helpers import login

    payload = claims(session_tokens["access"])
    body = json.dumps(payload)[:-1]
    as_refresh_last = sign_raw({"alg": "HS256", "typ": "JWT"}, body + ', "token_type": "refresh"}')
    assert_refused(whoami(api, as_refresh_last))

    # sid twice: the revoked session first, the live one last -> the live one, consistently.
    revoked = login(api, user.email)
    api.post("/api/auth/logout", **bearer(revoked["access"]))
    live_sid = payload["sid"]
    revoked_claims = claims(revoked["access"])
    text = json.dumps({**revoked_claims})[:-1] + f', "sid": "{live_sid}", "refresh_jti": "{payload["refresh_jti"]}"}}'
    response = whoami(api, sign_raw({"alg": "HS256", "typ": "JWT"}, text))
    assert response.status_code == 200 and response.json()["session_id"] == live_sid
    # ... and the other way round is refused as revoked.
    sid, jti = revoked_claims["sid"], revoked_claims["refresh_jti"]
    text = json.dumps(payload)[:-1] + f', "sid": "{sid}", "refresh_jti": "{jti}"}}'
    assert_refused(whoami(api, sign_raw({"alg": "HS256", "typ": "JWT"}, text)), "session_revoked")


def test_a_duplicate_alg_header_ending_in_none_is_refused(api, session_tokens):
    header = '{"alg": "HS256", "typ": "JWT", "alg": "none"}'
    payload = session_tokens["access"].split(".")[1]
    token = f"{b64(header.encode())}.{payload}."
    assert_refused(whoami(api, token))


@pytest.mark.parametrize("value", ["Bearer \U000a14fe", "Bearer tok\u20acen", "B\u0113arer abc"])
def test_an_authorization_header_outside_latin_1_is_401_not_500(api, value):
    """Found by the fuzzer: simplejwt encodes the header as latin-1 and raised."""
    response = api.get(WHOAMI, HTTP_AUTHORIZATION=value)
    assert response.status_code == 401
