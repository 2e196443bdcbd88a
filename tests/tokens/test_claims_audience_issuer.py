"""Audience and issuer checks when FLOWAUTH_TOKENS sets AUDIENCE and ISSUER (SECURITY.md JWT-10).

Every forged token is re-signed with the real key, so only the changed claim
can be the reason for the refusal; an unchanged re-signed token is accepted.
The substring cases are CVE-2024-53861 (PyJWT 2.10.0 matched `iss` with `in`).
"""

import jwt as pyjwt
import pytest
from jwt.algorithms import get_default_algorithms

from tests import signing
from tests.helpers import b64, bearer, claims, error_code, login
from tokens.settings import token_settings as live_token_settings

pytestmark = pytest.mark.django_db

WHOAMI = "/api/auth/whoami"
REFRESH = "/api/auth/refresh"
AUDIENCE = "orders"
ISSUER = "https://auth.example.com"


@pytest.fixture
def tokens(api, user, token_settings):
    token_settings(AUDIENCE=AUDIENCE, ISSUER=ISSUER)
    return login(api, user.email)


def forge(token: str, *, key=None, drop=(), **changes) -> str:
    """Re-sign a token's claims, after changing them, with its own header's algorithm and the real key.

    Signed by hand: PyJWT refuses to encode an `iss` that is not a string.
    """
    header = pyjwt.get_unverified_header(token)
    payload = {k: v for k, v in claims(token).items() if k not in drop} | changes
    signer = get_default_algorithms()[header["alg"]]
    signing_input = f"{b64(header)}.{b64(payload)}"
    signature = signer.sign(signing_input.encode(), signer.prepare_key(key or live_token_settings.SIGNING_KEY))
    return f"{signing_input}.{b64(signature)}"


def assert_token_invalid(response):
    assert response.status_code == 401, response.content
    assert error_code(response) == "token_invalid"
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_issued_tokens_carry_our_audience_and_issuer_and_are_accepted(api, tokens):
    for kind in ("access", "refresh"):
        assert (claims(tokens[kind])["aud"], claims(tokens[kind])["iss"]) == (AUDIENCE, ISSUER)
    assert api.get(WHOAMI, **bearer(tokens["access"])).status_code == 200


def test_a_token_re_signed_unchanged_is_accepted(api, tokens):
    assert api.get(WHOAMI, **bearer(forge(tokens["access"]))).status_code == 200


def test_an_audience_list_that_contains_ours_is_accepted(api, tokens):
    # RFC 7519 4.1.3: with an array, one matching value is enough. The control for the list case below.
    assert api.get(WHOAMI, **bearer(forge(tokens["access"], aud=["billing", AUDIENCE]))).status_code == 200


BAD_CLAIMS = {
    "wrong_aud": ({"aud": "billing"}, ()),
    "missing_aud": ({}, ("aud",)),
    "aud_list_without_ours": ({"aud": ["billing", "orders-admin"]}, ()),
    "aud_prefix_of_ours": ({"aud": "order"}, ()),
    "wrong_iss": ({"iss": "https://evil.example"}, ()),
    "missing_iss": ({}, ("iss",)),
    "iss_prefix_of_ours": ({"iss": "https://auth.example"}, ()),
    "iss_superstring_of_ours": ({"iss": "https://auth.example.com.evil.example"}, ()),
    "iss_ours_with_trailing_slash": ({"iss": ISSUER + "/"}, ()),
    "iss_as_list": ({"iss": [ISSUER]}, ()),
    "iss_as_int": ({"iss": 1}, ()),
}


@pytest.mark.parametrize("changes, drop", BAD_CLAIMS.values(), ids=BAD_CLAIMS.keys())
def test_a_wrong_audience_or_issuer_is_token_invalid_on_a_protected_endpoint(api, tokens, changes, drop):
    assert_token_invalid(api.get(WHOAMI, **bearer(forge(tokens["access"], drop=drop, **changes))))


@pytest.mark.parametrize("changes, drop", BAD_CLAIMS.values(), ids=BAD_CLAIMS.keys())
def test_a_refresh_token_with_a_wrong_audience_or_issuer_is_refused(api, tokens, changes, drop):
    forged = forge(tokens["refresh"], drop=drop, **changes)
    assert_token_invalid(api.post(REFRESH, {"refresh": forged}, format="json"))
    # Refused before the row was touched: the genuine refresh token still rotates.
    assert api.post(REFRESH, {"refresh": tokens["refresh"]}, format="json").status_code == 200


@pytest.mark.parametrize(
    "expected, presented",
    [("https://auth.example", "https://auth.example.com"), ("https://auth.example.com", "https://auth.example")],
    ids=["expected_is_prefix", "presented_is_prefix"],
)
def test_issuer_prefix_and_superstring_never_match_either_way(api, user, token_settings, expected, presented):
    token_settings(AUDIENCE=AUDIENCE, ISSUER=expected)
    access = login(api, user.email)["access"]
    assert api.get(WHOAMI, **bearer(access)).status_code == 200
    assert_token_invalid(api.get(WHOAMI, **bearer(forge(access, iss=presented))))


# --- ES256: the same checks with an asymmetric key ------------------------------


def test_es256_tokens_with_a_wrong_audience_or_issuer_are_refused(api, user, token_settings):
    token_settings(**signing.config("ES256"), AUDIENCE=AUDIENCE, ISSUER=ISSUER)
    access = login(api, user.email)["access"]
    key = signing.private_key("ES256")
    assert pyjwt.get_unverified_header(access)["alg"] == "ES256"
    assert api.get(WHOAMI, **bearer(forge(access, key=key))).status_code == 200
    for changes, drop in BAD_CLAIMS.values():
        assert_token_invalid(api.get(WHOAMI, **bearer(forge(access, key=key, drop=drop, **changes))))
