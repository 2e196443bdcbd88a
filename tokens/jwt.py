"""Token classes and the signing backend, extending simplejwt at its seams.

Access tokens name their parent refresh token (``refresh_jti``) and their
session (``sid``); both are required, so no token can skip the revocation
check by leaving them out.
"""

import base64
import json
import re
from datetime import datetime
from typing import TypeVar

import jwt as pyjwt
from rest_framework_simplejwt import tokens as simplejwt_tokens
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import (
    ExpiredTokenError,
    TokenBackendError,
    TokenBackendExpiredToken,
    TokenError,
)

from flowauth.errors import TokenExpired, TokenInvalid
from tokens import jws, keys
from tokens.settings import token_settings

USER_ID_CLAIM = "user_id"
SESSION_CLAIM = "sid"
PARENT_CLAIM = "refresh_jti"
# When the token's session started, in microseconds since the epoch: compared
# with the user's cut-off, finer than ``iat``'s whole seconds, so a session
# started just after a cut-off (a password change's new pair) survives it while
# one started in the same second before it does not.
SESSION_START_CLAIM = "sst"
TOKEN_TYPE_CLAIM = "token_type"
# OpenID Connect's names: when the user last proved who they are (epoch seconds)
# and how (RFC 8176: "pwd", "otp"). Sibling services read them to demand a factor.
AUTH_TIME_CLAIM = "auth_time"
AMR_CLAIM = "amr"

# Compact JWS only: three base64url segments, nothing else (no JWE, no JSON form).
_COMPACT_JWS = re.compile(rb"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")  # fullmatch: no newline after it
# Header members that would point at key material: never followed, refused outright.
_FORBIDDEN_HEADERS = {"jku", "x5u", "jwk", "x5c", "crit", "b64"}


def unverified_header(token) -> dict:
    """The JOSE header, decoded from its segment alone (UTF-8 JSON object), never trusted.

    Only the first segment is read: PyJWT's own decode validates all three
    once more, and a second full parse was half the cost of a decode.
    """
    raw = token.encode() if isinstance(token, str) else bytes(token)
    segment = raw.split(b".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4)).decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # bad base64 (binascii.Error), UTF-8 or JSON; nesting
        raise TokenBackendError("Token is invalid") from exc
    if not isinstance(header, dict):
        raise TokenBackendError("Token is invalid")
    return header


class FlowAuthTokenBackend(TokenBackend):
    """simplejwt's backend with stricter input checks before and after PyJWT.

    With an asymmetric algorithm it signs with the one private key, names it
    in the header's ``kid``, and verifies with the public key that ``kid``
    names in the configured key set, under the one configured algorithm.
    """

    keyset: keys.KeySet | None = None

    def get_verifying_key(self, token):
        if self.keyset is None:
            return super().get_verifying_key(token)
        # The unverified kid only indexes the configured map; the algorithm stays the configured one.
        kid = unverified_header(token).get("kid")
        if not keys.valid_kid(kid) or kid not in self.keyset.verifying_keys:
            raise TokenBackendError("Token is invalid")
        return self.keyset.verifying_keys[kid]

    def encode(self, payload: dict) -> str:
        if self.keyset is None:
            return super().encode(payload)
        if self.keyset.signing_key is None:
            raise TokenBackendError("This service verifies tokens; it has no private key to sign with")
        claims = dict(payload)
        if self.audience is not None:
            claims["aud"] = self.audience
        if self.issuer is not None:
            claims["iss"] = self.issuer
        return pyjwt.encode(
            claims, self.keyset.signing_key, algorithm=self.algorithm, headers={"kid": self.keyset.signing_kid}
        )

    def decode(self, token, verify: bool = True):
        raw = token.encode() if isinstance(token, str) else bytes(token)
        if len(raw) > token_settings.MAX_TOKEN_BYTES or not _COMPACT_JWS.fullmatch(raw):
            raise TokenBackendError("Token is invalid")
        # simplejwt's TokenBackend.decode, on FlowAuth's cheaper PyJWT (tokens/jws.py), keeping the header.
        try:
            decoded = jws.decoder.decode_complete(
                raw,
                self.get_verifying_key(raw),
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.get_leeway(),
                options={"verify_aud": self.audience is not None, "verify_signature": verify},
            )
        except pyjwt.ExpiredSignatureError as exc:
            raise TokenBackendExpiredToken("Token is expired") from exc
        except pyjwt.InvalidTokenError as exc:
            raise TokenBackendError("Token is invalid") from exc
        # Checked once the header is parsed (PyJWT follows none of them; a token carrying one is refused).
        if _FORBIDDEN_HEADERS & decoded["header"].keys():
            raise TokenBackendError("Token is invalid")
        payload = decoded["payload"]
        for claim in ("exp", "iat"):
            if type(payload.get(claim)) is not int:
                raise TokenBackendError("Token is invalid")
        return payload


def _build_backend() -> FlowAuthTokenBackend:
    audience, issuer, leeway = token_settings.AUDIENCE, token_settings.ISSUER, token_settings.LEEWAY
    if not keys.is_asymmetric(token_settings.ALGORITHM):
        return FlowAuthTokenBackend(
            token_settings.ALGORITHM,
            token_settings.SIGNING_KEY,
            token_settings.VERIFYING_KEY,
            audience=audience,
            issuer=issuer,
            leeway=leeway,
        )
    keyset = get_keyset()
    # No HMAC key at all: a HS* token can never verify here, whatever its secret.
    backend = FlowAuthTokenBackend(keyset.algorithm, None, "", audience=audience, issuer=issuer, leeway=leeway)
    backend.keyset = keyset
    return backend


def get_keyset() -> keys.KeySet:
    return token_settings.derived(
        "keyset",
        lambda: keys.build_keyset(
            algorithm=token_settings.ALGORITHM,
            private_key=token_settings.PRIVATE_KEY,
            public_keys=token_settings.PUBLIC_KEYS,
            signing_kid=token_settings.SIGNING_KID,
            jwks_url=token_settings.JWKS_URL,
        ),
    )


def get_backend() -> FlowAuthTokenBackend:
    """The backend for the current settings, built once per change of FLOWAUTH_TOKENS."""
    return token_settings.derived("backend", _build_backend)


class _FlowAuthToken(simplejwt_tokens.Token):
    required_claims: tuple[str, ...] = ()

    def get_token_backend(self):
        return get_backend()

    def verify(self) -> None:
        super().verify()
        for claim in (USER_ID_CLAIM, *self.required_claims):
            value = self.payload.get(claim)
            if not isinstance(value, str) or not value or not _storable(value):
                raise TokenError("Token is missing a required claim")
        jti = self.payload.get("jti")
        if not isinstance(jti, str) or not _storable(jti):
            raise TokenError("Token has no id")
        if type(self.payload.get(SESSION_START_CLAIM, 0)) is not int:
            raise TokenError("Token is invalid")


def _storable(value: str) -> bool:
    """Whether an id claim can name a Redis key and a database row: UTF-8 (no lone surrogate), no NUL.

    Only a token signed with FlowAuth's key gets here, and FlowAuth signs hex ids and
    ``str(pk)``; a signed claim that is neither still answers 401, not a 500 from an encoder.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


TokenT = TypeVar("TokenT", bound=_FlowAuthToken)


class AccessToken(_FlowAuthToken):
    token_type = "access"
    required_claims = (SESSION_CLAIM, PARENT_CLAIM)

    @property
    def lifetime(self):
        return token_settings.ACCESS_TOKEN_LIFETIME


class RefreshToken(_FlowAuthToken):
    token_type = "refresh"
    required_claims = (SESSION_CLAIM,)

    @property
    def lifetime(self):
        return token_settings.REFRESH_TOKEN_LIFETIME


def decode(raw: str | bytes, token_class: type[TokenT]) -> TokenT:
    """Verify ``raw`` as a ``token_class`` token; refusals are the contract's ``token_expired`` / ``token_invalid``."""
    try:
        return token_class(raw)
    except ExpiredTokenError as exc:
        raise TokenExpired() from exc
    except TokenError as exc:
        raise TokenInvalid() from exc


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def encode_refresh(
    *, jti: str, user_id, session_id: str, issued_at: datetime, expires_at: datetime, extra: dict | None = None
) -> str:
    """Sign a refresh token from its stored row; the same row gives the same string."""
    token = RefreshToken()
    token.payload.update(
        {
            "jti": jti,
            USER_ID_CLAIM: str(user_id),
            SESSION_CLAIM: session_id,
            "iat": _epoch(issued_at),
            "exp": _epoch(expires_at),
        }
    )
    token.payload.update(extra or {})
    return str(token)


def epoch_micros(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def encode_access(
    *,
    user_id,
    session_id: str,
    refresh_jti: str,
    session_start: datetime,
    now: datetime,
    not_after: datetime,
    auth_time: datetime | None = None,
    amr: tuple[str, ...] = ("pwd",),
    extra: dict | None = None,
) -> tuple[str, datetime]:
    """Sign a fresh access token; it never outlives ``not_after`` (the session's end)."""
    token = AccessToken()
    expires_at = min(now + token_settings.ACCESS_TOKEN_LIFETIME, not_after)
    token.payload.update(
        {
            USER_ID_CLAIM: str(user_id),
            SESSION_CLAIM: session_id,
            PARENT_CLAIM: refresh_jti,
            SESSION_START_CLAIM: epoch_micros(session_start),
            "iat": _epoch(now),
            "exp": _epoch(expires_at),
            AUTH_TIME_CLAIM: _epoch(auth_time or session_start),
            AMR_CLAIM: list(amr),
        }
    )
    token.payload.update(extra or {})
    return str(token), expires_at


def user_id_value(claim: str):
    """The user id claim (a string, as RFC 7519's ``sub``) as the API shows ids: a number.

    Non-numeric primary keys (MongoDB's ObjectId) stay strings.
    """
    return int(claim) if isinstance(claim, str) and claim.isascii() and claim.isdigit() else claim
