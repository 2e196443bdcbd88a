"""GET /.well-known/jwks.json: every accepted public key, public members only."""

import pytest

from tests import signing
from tokens import keys

pytestmark = pytest.mark.django_db

JWKS = "/.well-known/jwks.json"
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}


def test_under_hs256_the_jwks_is_empty(api):
    response = api.get(JWKS)
    assert response.status_code == 200
    assert response.json() == {"keys": []}


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
def test_the_jwks_lists_every_key_with_public_members_only(api, token_settings, algorithm):
    token_settings(**signing.config(algorithm, signer="b", listed=("a",)))
    response = api.get(JWKS)
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=300"
    entries = response.json()["keys"]
    expected = {signing.kid_of(signing.private_key(algorithm, n), algorithm) for n in ("a", "b")}
    assert {entry["kid"] for entry in entries} == expected
    for entry in entries:
        assert not PRIVATE_MEMBERS & set(entry), entry
        assert entry["alg"] == algorithm and entry["use"] == "sig"
        # Each entry is the key its kid names: the kid is its RFC 7638 thumbprint.
        assert (
            keys.thumbprint(
                keys.load_public_key({k: v for k, v in entry.items() if k not in ("kid", "alg", "use")}, algorithm),
                algorithm,
            )
            == entry["kid"]
        )


def test_the_jwks_max_age_is_configurable(api, token_settings):
    token_settings(**signing.config("ES256"), JWKS_MAX_AGE=60)
    assert api.get(JWKS)["Cache-Control"] == "public, max-age=60"


def test_a_removed_key_leaves_the_jwks(api, token_settings):
    token_settings(**signing.config("ES256", signer="b"))
    kids = {entry["kid"] for entry in api.get(JWKS).json()["keys"]}
    assert kids == {signing.kid_of(signing.private_key("ES256", "b"), "ES256")}


def test_the_jwks_verifies_a_token_with_pyjwt(api, user, token_settings):
    import jwt as pyjwt

    from tests.helpers import login

    token_settings(**signing.config("ES256"))
    access = login(api, user.email)["access"]
    jwk_set = pyjwt.PyJWKSet.from_dict(api.get(JWKS).json())
    kid = pyjwt.get_unverified_header(access)["kid"]
    claims = pyjwt.decode(access, jwk_set[kid].key, algorithms=["ES256"])
    assert claims["token_type"] == "access"
