"""FlowAuth's PyJWT (tokens/jws.py): the same answers as PyJWT's own, for less work.

The segment check must accept and refuse exactly what PyJWT's does, for any
bytes; PyJWT must still be calling it (an upgrade that renames the hook would
quietly bring the slow check back, and this says so); the remembered HMAC key
must never stand in for another key.
"""

import jwt as pyjwt
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from jwt.exceptions import DecodeError, InvalidKeyError

from tests.helpers import bearer, error_code
from tokens import jws

pytestmark = pytest.mark.django_db

WHOAMI = "/api/auth/whoami"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _answer(check, segment: bytes):
    try:
        return ("decoded", check(segment, "payload"))
    except DecodeError as exc:
        return ("refused", str(exc))


# Mostly near-valid segments (the alphabet, '=' and a few intruders), and arbitrary bytes.
segments = st.binary(max_size=64) | st.text(
    alphabet=st.sampled_from([*ALPHABET, "=", "+", "/", ".", "\n", " ", "\x00", "é"]), max_size=64
).map(lambda text: text.encode())


@hypothesis_settings(max_examples=3000, deadline=None)
@given(segment=segments)
def test_the_segment_check_answers_as_pyjwts_own(segment):
    assert _answer(jws._JWS._decode_base64url_segment, segment) == _answer(
        pyjwt.PyJWS._decode_base64url_segment, segment
    )


def test_every_byte_outside_the_alphabet_is_refused_in_every_segment(api, session_tokens):
    parts = session_tokens["access"].encode().split(b".")
    for byte in (b for b in range(256) if chr(b) not in ALPHABET):
        for index in range(3):
            changed = list(parts)
            changed[index] = changed[index][:4] + bytes([byte]) + changed[index][4:]
            raw = b".".join(changed).decode("latin-1")
            response = api.get(WHOAMI, HTTP_AUTHORIZATION=f"Bearer {raw}")
            assert response.status_code == 401, (byte, index)
            assert error_code(response) == "token_invalid"
        # And after the token (NUL, '=', '.', ...), except whitespace: HTTP's optional space around a value.
        if not bytes([byte]).isspace():
            response = api.get(WHOAMI, HTTP_AUTHORIZATION=f"Bearer {session_tokens['access']}{chr(byte)}")
            assert response.status_code == 401, byte
    assert api.get(WHOAMI, **bearer(session_tokens["access"])).status_code == 200


def test_pyjwt_still_calls_the_faster_segment_check(api, session_tokens, monkeypatch):
    calls = []
    original = jws._JWS._decode_base64url_segment

    def counting(segment, name):
        calls.append(name)
        return original(segment, name)

    monkeypatch.setattr(jws._JWS, "_decode_base64url_segment", staticmethod(counting))
    assert api.get(WHOAMI, **bearer(session_tokens["access"])).status_code == 200
    assert calls == ["header", "payload", "crypto"]


def test_the_hmac_algorithms_are_flowauths_and_no_others_were_added():
    algorithms = jws.decoder._jws.get_algorithms()
    assert set(algorithms) == set(pyjwt.PyJWS().get_algorithms())
    for name in ("HS256", "HS384", "HS512"):
        assert isinstance(jws.decoder._jws.get_algorithm_by_name(name), jws._HMACAlgorithm)


def test_a_remembered_key_never_verifies_for_another_key():
    algorithm = jws._HMACAlgorithm(jws.HMACAlgorithm.SHA256)
    first, second = "k" * 40, "q" * 40
    signature = algorithm.sign(b"message", algorithm.prepare_key(first))
    assert algorithm.verify(b"message", algorithm.prepare_key(first), signature)
    assert not algorithm.verify(b"message", algorithm.prepare_key(second), signature)
    assert algorithm.prepare_key(first) == first.encode()


@pytest.mark.parametrize("asymmetric", [b"-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----", b"ssh-rsa AAAA"])
def test_an_asymmetric_key_is_still_refused_as_an_hmac_secret_every_time(asymmetric):
    algorithm = jws._HMACAlgorithm(jws.HMACAlgorithm.SHA256)
    algorithm.prepare_key(b"k" * 40)
    for _ in range(2):  # a refusal is never remembered as an answer
        with pytest.raises(InvalidKeyError):
            algorithm.prepare_key(asymmetric)


def test_a_changed_signing_key_refuses_tokens_of_the_old_one_at_once(api, session_tokens, token_settings):
    access = session_tokens["access"]
    assert api.get(WHOAMI, **bearer(access)).status_code == 200
    token_settings(SIGNING_KEY="another-signing-key-another-signing-key-0123456789")
    response = api.get(WHOAMI, **bearer(access))
    assert response.status_code == 401
    assert error_code(response) == "token_invalid"


def _signed(header_json: str, payload_json: str) -> str:
    import hashlib
    import hmac

    from tests.helpers import b64
    from tokens.settings import token_settings

    signing_input = f"{b64(header_json.encode())}.{b64(payload_json.encode())}"
    digest = hmac.new(token_settings.SIGNING_KEY.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(digest)}"


# Every JSON type that is not an object, and odd code points (escaped lone surrogates, NUL,
# invisible and bidi characters) in names and values: signed with the real key.
NOT_OBJECTS = ["[]", "1", "1.5", '"x"', "null", "true", "false", '[{"alg":"HS256"}]']
# Each odd value, and whether an id claim holding it can name a Redis key and a row.
ODD = {'"\\ud800"': False, '"\\udfff"': False, '"\\u0000"': False, '"\\u200b\\ufeff"': True, '"\\u202e"': True}


@pytest.mark.parametrize("body", NOT_OBJECTS)
def test_a_signed_header_or_payload_that_is_not_an_object_is_401(api, session_tokens, body):
    import json

    from tests.helpers import claims

    real = json.dumps(claims(session_tokens["access"]))
    for token in (_signed(body, real), _signed('{"alg":"HS256","typ":"JWT"}', body)):
        response = api.get(WHOAMI, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 401, (body, response.content)
        assert error_code(response) == "token_invalid"


@pytest.mark.parametrize("odd", ODD)
def test_odd_code_points_in_a_signed_header_or_claims_never_500(api, session_tokens, odd):
    import json

    from tests.helpers import claims

    payload = claims(session_tokens["access"])
    real = json.dumps(payload)
    cases = [
        (_signed(f'{{"alg":"HS256","typ":"JWT","kid":{odd},{odd}:1}}', real), 200),  # HS256 reads no kid
        (_signed('{"alg":"HS256"}', real[:-1] + f",{odd}:{odd}}}"), 200),  # an extra claim: unused
    ]
    for claim in ("sid", "refresh_jti", "user_id", "jti"):
        # An id claim FlowAuth never signs: 401 if it cannot be stored, else an unknown (live) id.
        changed = json.dumps({**payload, claim: "@"}).replace('"@"', odd)
        cases.append((_signed('{"alg":"HS256"}', changed), 200 if ODD[odd] else 401))
    for token, expected in cases:
        response = api.get(WHOAMI, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == expected, (odd, token, response.content)
        refresh = api.post("/api/auth/refresh", {"refresh": token}, format="json")
        assert refresh.status_code in (400, 401), refresh.content  # an access token is no refresh token
    # The same ids in a signed refresh token: refused at the refresh endpoint, never a 500 from
    # a Redis key or a database query (PostgreSQL refuses NUL in text).
    for claim in ("sid", "jti", "user_id"):
        changed = json.dumps({**payload, "token_type": "refresh", claim: "@"}).replace('"@"', odd)
        refresh = api.post("/api/auth/refresh", {"refresh": _signed('{"alg":"HS256"}', changed)}, format="json")
        assert refresh.status_code == 401, (odd, claim, refresh.content)
