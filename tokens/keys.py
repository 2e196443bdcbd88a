"""Asymmetric signing keys: loading, key ids (RFC 7638 thumbprints) and the JWKS.

Each configured public key is used with exactly one algorithm (the
configured ``ALGORITHM``) and is found only by its ``kid`` in the configured
map: nothing in a token's header can add, fetch or choose key material.
"""

import base64
import hashlib
import json
import re
import urllib.request
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from django.core.exceptions import ImproperlyConfigured
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

ASYMMETRIC_ALGORITHMS = ("RS256", "ES256", "EdDSA")
MIN_RSA_BITS = 2048
# A kid is an opaque short label: anything else in the header is refused unread.
KID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
PUBLIC_JWK_MEMBERS = {
    "RSA": ("kty", "n", "e"),
    "EC": ("kty", "crv", "x", "y"),
    "OKP": ("kty", "crv", "x"),
}
JWKS_MAX_BYTES = 64 * 1024


def is_asymmetric(algorithm: str) -> bool:
    return algorithm in ASYMMETRIC_ALGORITHMS


def valid_kid(kid) -> bool:
    return isinstance(kid, str) and bool(KID_PATTERN.match(kid))


# One PyJWT algorithm object per supported name, never PyJWT's whole registry.
_ALGORITHMS = {
    "RS256": RSAAlgorithm(RSAAlgorithm.SHA256),
    "ES256": ECAlgorithm(ECAlgorithm.SHA256),
    "EdDSA": OKPAlgorithm(),
}


def _algorithm(name: str):
    if name not in _ALGORITHMS:
        raise ImproperlyConfigured(f"{name} is not an asymmetric algorithm FlowAuth signs with")
    return _ALGORITHMS[name]


def _check_key_type(public_key, algorithm: str) -> None:
    """Refuse a key that does not belong to ``algorithm`` or is too weak."""
    if algorithm == "RS256":
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise ImproperlyConfigured("RS256 needs RSA keys")
        if public_key.key_size < MIN_RSA_BITS:
            raise ImproperlyConfigured(f"RSA keys must have at least {MIN_RSA_BITS} bits")
    elif algorithm == "ES256":
        if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != "secp256r1":
            raise ImproperlyConfigured("ES256 needs P-256 keys")
    elif algorithm == "EdDSA":
        if not isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            raise ImproperlyConfigured("EdDSA needs Ed25519 or Ed448 keys")
    else:
        raise ImproperlyConfigured(f"{algorithm} is not an asymmetric algorithm FlowAuth signs with")


def public_jwk(public_key, algorithm: str) -> dict:
    """The key's public members only, as a JWK dict (never d, p, q, dp, dq, qi, k)."""
    jwk = _algorithm(algorithm).to_jwk(public_key, as_dict=True)
    return {member: jwk[member] for member in PUBLIC_JWK_MEMBERS[jwk["kty"]]}


def thumbprint(public_key, algorithm: str) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): the default ``kid``."""
    canonical = json.dumps(public_jwk(public_key, algorithm), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def load_public_key(material, algorithm: str):
    """A public key from PEM text or a JWK dict, checked against ``algorithm``."""
    if isinstance(material, dict):
        if set(material) & {"d", "p", "q", "dp", "dq", "qi", "k"}:
            raise ImproperlyConfigured("a configured public JWK carries private members")
        key = _algorithm(algorithm).from_jwk(json.dumps(material))
    elif isinstance(material, str) and material.strip():
        key = serialization.load_pem_public_key(material.strip().encode())
    else:
        raise ImproperlyConfigured("a public key must be PEM text or a JWK object")
    _check_key_type(key, algorithm)
    return key


def load_private_key(pem: str, algorithm: str):
    key = serialization.load_pem_private_key(pem.strip().encode(), password=None)
    _check_key_type(key.public_key(), algorithm)
    return key


@dataclass(frozen=True, eq=False)  # hashed by identity: built once per configuration
class KeySet:
    """The signing key (if this process signs) and every key it accepts, by kid."""

    algorithm: str
    signing_key: object | None
    signing_kid: str | None
    verifying_keys: dict

    def jwks(self) -> dict:
        return {
            "keys": [
                {**public_jwk(key, self.algorithm), "kid": kid, "alg": self.algorithm, "use": "sig"}
                for kid, key in self.verifying_keys.items()
            ]
        }


def _freeze(public_keys) -> tuple:
    if isinstance(public_keys, str):
        public_keys = json.loads(public_keys) if public_keys.strip() else {}
    if isinstance(public_keys, dict) and "keys" in public_keys:  # a JWKS document
        public_keys = {jwk.get("kid"): jwk for jwk in public_keys["keys"]}
    return tuple(
        (kid, json.dumps(value, sort_keys=True) if isinstance(value, dict) else value)
        for kid, value in (public_keys or {}).items()
    )


def build_keyset(*, algorithm: str, private_key: str, public_keys, signing_kid: str | None, jwks_url: str) -> KeySet:
    return _build_keyset(algorithm, private_key or "", _freeze(public_keys), signing_kid or "", jwks_url or "")


@lru_cache(maxsize=8)
def _build_keyset(algorithm, private_pem, public_items, signing_kid, jwks_url) -> KeySet:
    if not public_items and jwks_url:
        public_items = _freeze(fetch_jwks(jwks_url))
    verifying = {}
    for kid, material in public_items:
        if not valid_kid(kid):
            raise ImproperlyConfigured(f"invalid kid in the public keys: {kid!r}")
        if isinstance(material, str) and material.lstrip().startswith("{"):
            material = json.loads(material)
        verifying[kid] = load_public_key(material, algorithm)
    signing_key = None
    if private_pem:
        signing_key = load_private_key(private_pem, algorithm)
        signing_kid = signing_kid or thumbprint(signing_key.public_key(), algorithm)
        if not valid_kid(signing_kid):
            raise ImproperlyConfigured(f"invalid signing kid: {signing_kid!r}")
        # The signer always accepts its own tokens; a listed key must be the same key.
        listed = verifying.setdefault(signing_kid, signing_key.public_key())
        if public_jwk(listed, algorithm) != public_jwk(signing_key.public_key(), algorithm):
            raise ImproperlyConfigured(f"public key {signing_kid!r} does not match the private key")
    if not verifying:
        raise ImproperlyConfigured(f"{algorithm} needs JWT_PRIVATE_KEY or JWT_PUBLIC_KEYS")
    return KeySet(algorithm, signing_key, signing_kid or None, verifying)


def fetch_jwks(url: str) -> dict:
    """Fetch a JWKS once, from a configured https URL (called at most once per URL per process)."""
    if not url.startswith("https://"):
        raise ImproperlyConfigured("JWKS_URL must be an https:// URL")
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (scheme checked above)
        body = response.read(JWKS_MAX_BYTES + 1)
    if len(body) > JWKS_MAX_BYTES:
        raise ImproperlyConfigured("the JWKS document is too large")
    document = json.loads(body)
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ImproperlyConfigured("the JWKS document has no 'keys' list")
    return document


def generate_private_key(algorithm: str):
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unsupported algorithm {algorithm}")


def private_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(key) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
