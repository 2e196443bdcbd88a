"""DPoP proofs (RFC 9449): sender-constrained sessions.

A client that sends a ``DPoP`` header with a token request (login, register,
refresh, or any other request that starts a session) gets a session bound to
the proof's key: the session row keeps the key's RFC 7638 thumbprint
(``dpop_jkt``) and every token of the session carries ``cnf.jkt``.

``check_proof`` is RFC 9449 section 4.3, in order: one well-formed compact
JWS of bounded size; ``typ`` ``dpop+jwt``; an asymmetric ``alg`` from a fixed
list; a public ``jwk`` (private members refused) of the algorithm's key type;
the signature by that key; ``jti``, ``htm``, ``htu``, ``iat`` present and of
the right types; ``htm`` and ``htu`` matching this request (the URL as the
server sees it: scheme from ``SECURE_PROXY_SSL_HEADER``, host from Django's
``get_host`` with ``ALLOWED_HOSTS``, so forwarded headers count only when the
project's proxy settings trust them); ``iat`` inside ``DPOP_PROOF_MAX_AGE``;
``ath`` when an access token comes with it; ``nonce`` when ``DPOP_NONCE`` is
on. The ``jti`` is recorded in Redis (``SET NX``, one key per key and jti,
shared by every server): on resource requests that write rides in the
revocation check's round trip (``revocation.is_revoked(extra=...)``).

Nonces are stateless: an HMAC of a time slot under ``SECRET_KEY``, so any
server process of the deployment accepts a nonce another one handed out. A
nonce is good for its slot and the next (``DPOP_NONCE_LIFETIME`` each).
"""

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import jwt as pyjwt
from django.conf import settings
from django.utils import timezone
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from flowauth.errors import AuthUnavailable, InvalidDPoPProof, UseDPoPNonce
from tokens.settings import token_settings

HEADER = "HTTP_DPOP"
NONCE_HEADER = "DPoP-Nonce"
TYP = "dpop+jwt"
JTI_PREFIX = "flowauth:dpop:jti:"
# alg -> (kty, crv or None); RFC 7518 names. No HMAC, no "none": a proof proves possession of a private key.
ALGORITHMS = {"ES256": ("EC", "P-256"), "EdDSA": ("OKP", "Ed25519"), "RS256": ("RSA", None)}
# RFC 7638 section 3.2: the required members of each key type, the only ones hashed.
_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n")}
# Members of a private (or symmetric) JWK: a proof that carries one is refused outright.
_PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
_FORBIDDEN_HEADERS = {"jku", "x5u", "x5c", "crit", "b64"}
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")  # fullmatch: no newline after it
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_PARSERS = {"EC": ECAlgorithm, "OKP": OKPAlgorithm, "RSA": RSAAlgorithm}
MIN_RSA_BITS = 2048
MAX_JTI_LENGTH = 256


@dataclass(frozen=True)
class Proof:
    jkt: str
    jti: str
    iat: int

    def replay_key(self) -> str:
        # Per key and jti: another key cannot use up someone's jti; hashed, so the key's length is fixed.
        # The digest is the key's hash tag: in a cluster, jtis spread over every slot.
        return JTI_PREFIX + "{" + hashlib.sha256(f"{self.jkt}:{self.jti}".encode()).hexdigest() + "}"


def replay_ttl() -> int:
    """How long a jti is remembered: as long as a proof with it could still pass the iat check."""
    return int(token_settings.DPOP_PROOF_MAX_AGE) + int(token_settings.DPOP_PROOF_FUTURE_SKEW) + 1


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def access_token_hash(access_token: str | bytes) -> str:
    """``ath``: base64url SHA-256 of the access token's ASCII (RFC 9449 section 4.2)."""
    raw = access_token.encode("ascii") if isinstance(access_token, str) else bytes(access_token)
    return b64url(hashlib.sha256(raw).digest())


def jwk_thumbprint(jwk: dict) -> str:
    """RFC 7638 SHA-256 thumbprint of a public JWK (its required members only, sorted, no spaces)."""
    members = _THUMBPRINT_MEMBERS.get(jwk.get("kty"))
    if members is None or not all(isinstance(jwk.get(name), str) for name in members):
        raise InvalidDPoPProof()
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def normalise_htu(url: str) -> str | None:
    """``scheme://host[:port]/path`` with scheme and host lower-cased, the default port dropped,
    no query and no fragment (RFC 9449 section 4.3, RFC 3986 section 6.2.2/6.2.3); None if not a URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in ("http", "https") or not host or parts.username is not None or parts.password is not None:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path or '/'}"


def request_htu(request) -> str | None:
    """This request's URL as the server sees it (trusted proxy headers only), normalised."""
    try:
        host = request.get_host()  # ALLOWED_HOSTS; X-Forwarded-Host only with USE_X_FORWARDED_HOST
    except Exception:  # DisallowedHost: Django answers 400 for it elsewhere; here the proof cannot match
        return None
    return normalise_htu(f"{request.scheme}://{host}{request.path}")


# --- nonces ---------------------------------------------------------------


def _nonce_for_slot(slot: int) -> str:
    mac = hmac.new(settings.SECRET_KEY.encode(), f"flowauth-dpop-nonce:{slot}".encode(), hashlib.sha256)
    return f"{slot:x}.{b64url(mac.digest()[:16])}"


def _slot(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // max(1, int(token_settings.DPOP_NONCE_LIFETIME)))


def current_nonce() -> str:
    return _nonce_for_slot(_slot())


def nonce_is_valid(nonce) -> bool:
    if not isinstance(nonce, str) or len(nonce) > 64:
        return False
    slot = _slot()
    return any(hmac.compare_digest(nonce, _nonce_for_slot(s)) for s in (slot, slot - 1))


# --- proofs ---------------------------------------------------------------


def proof_header(request) -> str | None:
    """The raw ``DPoP`` header, or None when the request has none. Two headers joined by a
    comma (as WSGI servers join repeats) are not one compact JWS and fail the format check."""
    value = request.META.get(HEADER)
    return None if value is None else str(value)


def _public_key(alg: str, jwk) -> object:
    if not isinstance(jwk, dict) or _PRIVATE_MEMBERS & set(jwk):
        raise InvalidDPoPProof()
    kty, crv = ALGORITHMS[alg]
    if jwk.get("kty") != kty or (crv is not None and jwk.get("crv") != crv):
        raise InvalidDPoPProof()
    for value in jwk.values():
        if isinstance(value, str) and len(value) > 1024:
            raise InvalidDPoPProof()
    try:
        key = _PARSERS[kty].from_jwk(json.dumps(jwk))
    except Exception:  # any malformed member (wrong type, bad base64, off-curve point)
        raise InvalidDPoPProof() from None
    if hasattr(key, "private_bytes"):  # belt and braces: a private key object never verifies a proof
        raise InvalidDPoPProof()
    if kty == "RSA" and key.key_size < MIN_RSA_BITS:
        raise InvalidDPoPProof()
    return key


def _header(proof: str) -> dict:
    segment = proof.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)).decode("utf-8"))
    except (ValueError, RecursionError):
        raise InvalidDPoPProof() from None
    if not isinstance(header, dict):
        raise InvalidDPoPProof()
    return header


def check_proof(request, *, access_token: str | bytes | None = None) -> Proof:
    """Validate the request's DPoP proof (RFC 9449 section 4.3) and return its key's thumbprint.

    Does not record the jti: the caller does (``record_jti``, or the revocation check's round trip).
    Raises InvalidDPoPProof, or UseDPoPNonce when ``DPOP_NONCE`` is on and the nonce is missing or old.
    """
    proof = proof_header(request)
    if proof is None:
        raise InvalidDPoPProof("A DPoP proof is required.")
    if len(proof) > token_settings.DPOP_MAX_PROOF_BYTES or not proof.isascii() or not _COMPACT_JWS.fullmatch(proof):
        raise InvalidDPoPProof()
    header = _header(proof)
    alg = header.get("alg")
    if header.get("typ") != TYP or not isinstance(alg, str) or alg not in ALGORITHMS:
        raise InvalidDPoPProof()
    if _FORBIDDEN_HEADERS & set(header):
        raise InvalidDPoPProof()
    jwk = header.get("jwk")
    key = _public_key(alg, jwk)
    try:
        # The algorithm is pinned to the one the key type allows; claims are checked below, by hand.
        claims = pyjwt.decode(
            proof,
            key,
            algorithms=[alg],
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except (pyjwt.InvalidTokenError, ValueError, TypeError, RecursionError):
        raise InvalidDPoPProof() from None
    if not isinstance(claims, dict):
        raise InvalidDPoPProof()
    jti, htm, htu, iat = claims.get("jti"), claims.get("htm"), claims.get("htu"), claims.get("iat")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise InvalidDPoPProof()
    if not isinstance(htm, str) or htm != request.method:
        raise InvalidDPoPProof()
    expected_htu = request_htu(request)
    if not isinstance(htu, str) or len(htu) > 2048 or expected_htu is None or normalise_htu(htu) != expected_htu:
        raise InvalidDPoPProof()
    if type(iat) is not int:
        raise InvalidDPoPProof()
    now = int(timezone.now().timestamp())
    if iat < now - token_settings.DPOP_PROOF_MAX_AGE or iat > now + token_settings.DPOP_PROOF_FUTURE_SKEW:
        raise InvalidDPoPProof("The DPoP proof is too old or from the future.")
    if access_token is not None:
        ath = claims.get("ath")
        if not isinstance(ath, str) or not hmac.compare_digest(ath, access_token_hash(access_token)):
            raise InvalidDPoPProof()
    elif "ath" in claims and not isinstance(claims["ath"], str):
        raise InvalidDPoPProof()
    if token_settings.DPOP_NONCE and not nonce_is_valid(claims.get("nonce")):
        raise UseDPoPNonce()
    return Proof(jwk_thumbprint(jwk), jti, iat)


def record_jti(proof: Proof) -> None:
    """Accept the proof's jti once on every server (one SET NX); a second use is a replay."""
    from flowauth.errors import RevocationStoreUnavailable
    from tokens import revocation

    try:
        key, client = proof.replay_key(), revocation.get_redis()
        pipe = client.pipeline(transaction=False)
        pipe.set(key, "1", nx=True, ex=replay_ttl())
        pipe.mget(revocation.marker_key(key), revocation.since_key(key))  # the jti's slot, in a cluster
        created, (marker, since) = pipe.execute()
        if not revocation.marker_holds_epoch(client, key, marker):
            # The store lost its data (flushed, restarted, failed over): rebuild it, and trust only proofs signed after.
            if token_settings.ROLE == "verifier":
                raise AuthUnavailable()
            revocation.ensure_complete()
            since = int(timezone.now().timestamp())
    except (*revocation.ERRORS, RevocationStoreUnavailable):
        raise AuthUnavailable() from None  # fail closed: a replay could not be ruled out
    if not created:
        raise InvalidDPoPProof("The DPoP proof was already used.")
    if since is not None and proof.iat < revocation._since(since):
        raise InvalidDPoPProof("The DPoP proof predates the replay store; sign a new one.")


def token_request_jkt(request) -> str:
    """The proof-to-jkt step of every request that starts or refreshes a session.

    ``""`` when the request carries no proof (an unbound session; refused when
    ``DPOP_REQUIRED`` is on); the thumbprint of a valid, first-used proof's key
    otherwise. A proof already checked on this request (by the authentication
    class, on a bound resource request such as a password change) is reused,
    not checked twice. Views and services that start sessions call this.
    """
    django_request = getattr(request, "_request", request)
    known = getattr(django_request, "flowauth_dpop_jkt", None)
    if known is not None:
        return known
    if proof_header(django_request) is None:
        if token_settings.DPOP_REQUIRED:
            raise InvalidDPoPProof("A DPoP proof is required.")
        return ""
    proof = check_proof(django_request)
    record_jti(proof)
    django_request.flowauth_dpop_jkt = proof.jkt
    return proof.jkt


def token_claims(jkt: str) -> dict:
    """The confirmation claim of a bound session's tokens (RFC 9449 section 6.1), or nothing."""
    return {"cnf": {"jkt": jkt}} if jkt else {}


def bound_jkt(payload: dict) -> str | None:
    """The ``cnf.jkt`` of a token's claims; None for an unbound token, "" for a malformed one."""
    if "cnf" not in payload:
        return None
    cnf = payload["cnf"]
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    return jkt if isinstance(jkt, str) and _B64URL.match(jkt) else ""


def token_type(jkt: str) -> str:
    return "DPoP" if jkt else "Bearer"
