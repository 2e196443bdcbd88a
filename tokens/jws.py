"""PyJWT, with two per-request costs of its decode taken out and nothing else changed.

Every authenticated request decodes one token, and two parts of PyJWT's
decode were nearly half of its cost:

- Its base64url alphabet check walks each segment byte by byte in Python
  (about a third of a decode, growing with the token: FlowAuth's is
  431 bytes). Here the same check is one ``bytes.translate``; the padding,
  length and canonical-encoding checks around it are PyJWT's, in its order.
  ``tests/tokens/test_jws.py`` holds the two equal, result and refusal, on
  arbitrary bytes, and fails if PyJWT stops calling the method.
- Its HMAC ``prepare_key`` re-checks on every decode that the secret is not
  a PEM, SSH or DER key (it tries to load it as a DER key and certificate;
  about a tenth of a decode).
  The configured key is one object, so its answer is kept for that object.

Signature, header, algorithm and claim checks are PyJWT's own.
"""

import binascii

import jwt as pyjwt
from jwt.algorithms import HMACAlgorithm
from jwt.exceptions import DecodeError
from jwt.utils import base64url_decode, base64url_encode

_BASE64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


class _HMACAlgorithm(HMACAlgorithm):
    """PyJWT's HMAC, remembering the key it last prepared (one object: the configured secret)."""

    def __init__(self, hash_alg) -> None:
        super().__init__(hash_alg)
        self._prepared: tuple[object, bytes] | None = None

    def prepare_key(self, key):
        prepared = self._prepared  # one read: another thread may replace the pair, never half of it
        if prepared is not None and prepared[0] is key:
            return prepared[1]
        value = super().prepare_key(key)
        if isinstance(key, bytes | str):  # immutable: the same object has the same value for good
            self._prepared = (key, value)
        return value


class _JWS(pyjwt.PyJWS):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        for alg, hash_alg in (
            ("HS256", HMACAlgorithm.SHA256),
            ("HS384", HMACAlgorithm.SHA384),
            ("HS512", HMACAlgorithm.SHA512),
        ):
            self.unregister_algorithm(alg)  # PyJWT's public way to replace a handler
            self.register_algorithm(alg, _HMACAlgorithm(hash_alg))

    @staticmethod
    def _decode_base64url_segment(segment: bytes, name: str) -> bytes:
        # PyJWT's rules: up to two '=' (only on a length divisible by 4), no lone
        # trailing character, the alphabet only, and the canonical encoding.
        stripped = segment.rstrip(b"=")
        padding = len(segment) - len(stripped)
        if (
            padding > 2
            or (padding and len(segment) % 4)
            or len(stripped) % 4 == 1
            or stripped.translate(None, _BASE64URL_ALPHABET)
        ):
            raise DecodeError(f"Invalid {name} padding")
        try:
            decoded = base64url_decode(stripped)
        except (TypeError, binascii.Error) as err:
            raise DecodeError(f"Invalid {name} padding") from err
        if base64url_encode(decoded) != stripped:
            raise DecodeError(f"Invalid {name} padding")
        return decoded


class _JWT(pyjwt.PyJWT):
    def __init__(self) -> None:
        super().__init__()
        self._jws = _JWS(options=self._get_sig_options())


decoder = _JWT()
