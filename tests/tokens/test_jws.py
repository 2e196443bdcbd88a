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
