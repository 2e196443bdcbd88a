"""Key pairs and forged tokens for the asymmetric-signing tests."""

import hashlib
import hmac
import json
from functools import cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import get_default_algorithms

from tests.helpers import b64, claims
from tokens import keys


def private_key(algorithm: str, name: str = "a"):
    """One generated key per (algorithm, name) for the whole run; ``name`` tells keys apart."""
    return _generated(algorithm, name)


@cache
def _generated(algorithm: str, name: str):
    if algorithm in ("RS256", "PS256"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def kid_of(key, algorithm: str) -> str:
    return keys.thumbprint(key.public_key(), algorithm)


def config(algorithm: str, signer: str = "a", listed: tuple = ()) -> dict:
    """token_settings overrides: sign with key ``signer``, also accept keys ``listed``."""
    signing = private_key(algorithm, signer)
    public = {
        kid_of(private_key(algorithm, n), algorithm): keys.public_pem(private_key(algorithm, n).public_key())
        for n in listed
    }
    return {"ALGORITHM": algorithm, "PRIVATE_KEY": keys.private_pem(signing), "PUBLIC_KEYS": public, "SIGNING_KID": ""}


def verifier_config(algorithm: str, listed: tuple = ("a",)) -> dict:
    public = {
        kid_of(private_key(algorithm, n), algorithm): keys.public_pem(private_key(algorithm, n).public_key())
        for n in listed
    }
    return {"ALGORITHM": algorithm, "PRIVATE_KEY": "", "PUBLIC_KEYS": public, "SIGNING_KID": ""}


def hs256_with_raw_secret(token: str, secret: bytes, header: dict | None = None) -> str:
    """Re-sign a token's claims as HS256 with any bytes as the secret (PyJWT refuses PEM secrets)."""
    signing_input = f"{b64(header or {'alg': 'HS256', 'typ': 'JWT'})}.{b64(claims(token))}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def sign(token: str, key, algorithm: str, **header) -> str:
    """Re-sign a token's claims with ``key`` under ``algorithm`` and any header members (any JSON type)."""
    signing_input = f"{b64({'alg': algorithm, 'typ': 'JWT', **header})}.{b64(claims(token))}"
    signature = get_default_algorithms()[algorithm].sign(signing_input.encode(), key)
    return f"{signing_input}.{b64(signature)}"


def public_key_forms(key) -> dict:
    """The server's public key in every encoding an attacker might try as an HMAC secret."""
    public = key.public_key()
    forms = {
        "pem_spki": public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "der_spki": public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        "openssh": public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH),
    }
    if isinstance(public, rsa.RSAPublicKey):
        forms["pem_pkcs1"] = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
        forms["der_pkcs1"] = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    return forms


def jwk_forms(jwks_entry: dict) -> dict:
    return {
        "jwk_json": json.dumps(jwks_entry).encode(),
        "jwk_json_compact": json.dumps(jwks_entry, separators=(",", ":")).encode(),
        "jwk_json_sorted": json.dumps(jwks_entry, sort_keys=True, separators=(",", ":")).encode(),
    }
