"""The DRF authentication class: a signed access token whose session is live.

Costs one Redis round trip (the revocation MGET) and no database query:
``request.user`` is a stateless TokenUser built from the claims; a view that
needs the full user loads it itself.
"""

import hmac
import logging

from rest_framework import HTTP_HEADER_ENCODING
from rest_framework.authentication import SessionAuthentication
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.models import TokenUser

from flowauth.errors import (
    REALM,
    AuthUnavailable,
    InvalidDPoPProof,
    RevocationStoreUnavailable,
    SessionRevoked,
    TokenInvalid,
)
from tokens import cookies, dpop, jwt, revocation, selectors
from tokens.settings import token_settings

logger = logging.getLogger("flowauth.auth")

AUTH_SCHEME = b"bearer"
DPOP_SCHEME = b"dpop"


class FlowAuthUser(TokenUser):
    """The authenticated user as the access token describes it."""

    @property
    def session_id(self) -> str:
        return self.token[jwt.SESSION_CLAIM]

    @property
    def refresh_jti(self) -> str:
        return self.token[jwt.PARENT_CLAIM]

    @property
    def auth_time(self) -> int | None:
        """When the user last proved who they are (epoch seconds); None on tokens from before it was stamped."""
        value = self.token.payload.get(jwt.AUTH_TIME_CLAIM)
        return value if type(value) is int else None

    @property
    def amr(self) -> list[str]:
        value = self.token.payload.get(jwt.AMR_CLAIM)
        return [m for m in value if isinstance(m, str)] if isinstance(value, list) else []


class FlowAuthAuthentication(JWTStatelessUserAuthentication):
    """Bearer header first; then the access cookie of cookie mode.

    The header wins when both are sent. A cookie-authenticated request that
    changes state must pass Django's CSRF check (403 otherwise); the token
    is validated first, so a missing or bad cookie still answers 401.
    """

    www_authenticate_realm = REALM

    def authenticate_header(self, request) -> str:
        return f'Bearer realm="{REALM}"'

    def get_header(self, request) -> bytes | None:
        # WSGI servers hand over latin-1 strings; anything else is not a header we could have issued.
        try:
            return super().get_header(request)
        except UnicodeEncodeError as exc:
            raise TokenInvalid() from exc

    def authenticate(self, request):
        header = self.get_header(request)
        if header is not None and header.split()[:1] and header.split()[0].lower() == DPOP_SCHEME:
            return self.authenticate_dpop(request, header)
        return super().authenticate(request) or self.authenticate_cookie(request)

    # DPoP (RFC 9449 section 7): ``Authorization: DPoP <access>`` with a proof by the bound key.
    def authenticate_dpop(self, request, header: bytes):
        parts = header.split()
        if len(parts) != 2:
            raise TokenInvalid("The Authorization header must be 'DPoP <token>'.")
        raw_token = parts[1]
        token = self.decode_token(raw_token)
        jkt = dpop.bound_jkt(token.payload)
        if not jkt:  # an unbound token, or a malformed cnf: nothing to prove possession of
            raise TokenInvalid()
        proof = dpop.check_proof(request._request, access_token=raw_token)
        if not hmac.compare_digest(proof.jkt, jkt):
            raise InvalidDPoPProof()
        replay = revocation.ExtraSet(proof.replay_key(), dpop.replay_ttl())
        if self.is_revoked(token, extra=replay):
            raise SessionRevoked()
        if not replay.created:
            raise InvalidDPoPProof("The DPoP proof was already used.")
        if replay.since is not None and proof.iat < replay.since:
            # Signed before the replay store was last rebuilt (a flush, a restart): it may have been used.
            raise InvalidDPoPProof("The DPoP proof predates the replay store; sign a new one.")
        request._request.flowauth_dpop_jkt = jkt  # a session this request starts stays bound to the key
        return self.get_user(token), token

    def authenticate_cookie(self, request):
        raw_token = request.COOKIES.get(cookies.access_cookie_name())
        if not raw_token:
            return None
        validated_token = self.get_validated_token(raw_token.encode())
        cookies.enforce_csrf(request)
        cookies.mark_by_cookie(request)
        return self.get_user(validated_token), validated_token

    def get_raw_token(self, header: bytes) -> bytes | None:
        if isinstance(header, str):
            header = header.encode(HTTP_HEADER_ENCODING)
        parts = header.split()
        if not parts or parts[0].lower() != AUTH_SCHEME:
            return None  # not ours: other schemes are left to other classes
        if len(parts) != 2:
            raise TokenInvalid("The Authorization header must be 'Bearer <token>'.")
        return parts[1]

    def get_validated_token(self, raw_token: bytes, *, bound_ok: bool = False) -> jwt.AccessToken:
        """A live access token; a DPoP-bound one only for ``bound_ok`` callers (introspection)."""
        token = self.decode_token(raw_token)
        if not bound_ok and dpop.bound_jkt(token.payload) is not None:
            # A DPoP-bound token as Bearer (or cookie) is no downgrade path (RFC 9449 section 7).
            raise InvalidDPoPProof("This token is bound to a DPoP key: send it as 'DPoP' with a proof.")
        if self.is_revoked(token):
            raise SessionRevoked()
        return token

    def decode_token(self, raw_token: bytes) -> jwt.AccessToken:
        return jwt.decode(raw_token, jwt.AccessToken)

    def is_revoked(self, token: jwt.AccessToken, extra: revocation.ExtraSet | None = None) -> bool:
        session_id, refresh_jti = token[jwt.SESSION_CLAIM], token[jwt.PARENT_CLAIM]
        try:
            return revocation.is_revoked(
                session_id=session_id,
                refresh_jti=refresh_jti,
                user_id=token[jwt.USER_ID_CLAIM],
                # A token from before session start times were stamped falls under any cut-off.
                session_start=token.payload.get(jwt.SESSION_START_CLAIM, 0),
                extra=extra,
            )
        except RevocationStoreUnavailable:
            # A DPoP proof's jti can only be checked in Redis: no database fallback for it.
            if (
                token_settings.REVOCATION_FAILURE_MODE != "database"
                or token_settings.ROLE == "verifier"
                or extra is not None
            ):
                raise AuthUnavailable() from None
        return selectors.is_revoked_in_database(session_id=session_id, refresh_jti=refresh_jti)

    def get_user(self, validated_token) -> FlowAuthUser:
        return FlowAuthUser(validated_token)


class DjangoSessionAuthentication(SessionAuthentication):
    """DRF's session class (with its CSRF check), answering 401 rather than 403."""

    def authenticate_header(self, request) -> str:
        return f'Bearer realm="{REALM}"'
