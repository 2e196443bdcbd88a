"""The DRF authentication class: a signed access token whose session is live.

Costs one Redis round trip (the revocation MGET) and no database query:
``request.user`` is a stateless TokenUser built from the claims; a view that
needs the full user loads it itself.
"""

import logging

from rest_framework import HTTP_HEADER_ENCODING
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.models import TokenUser

from rest_framework.authentication import SessionAuthentication

from tokens import cookies, jwt, revocation, selectors
from flowauth.errors import (
    REALM,
    AuthUnavailable,
    RevocationStoreUnavailable,
    SessionRevoked,
    TokenInvalid,
)
from tokens.settings import token_settings

logger = logging.getLogger("flowauth.auth")

AUTH_SCHEME = b"bearer"


class FlowAuthUser(TokenUser):
    """The authenticated user as the access token describes it."""

    @property
    def session_id(self) -> str:
        return self.token[jwt.SESSION_CLAIM]

    @property
    def refresh_jti(self) -> str:
        return self.token[jwt.PARENT_CLAIM]


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
        return super().authenticate(request) or self.authenticate_cookie(request)

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

    def get_validated_token(self, raw_token: bytes) -> jwt.AccessToken:
        token = jwt.decode(raw_token, jwt.AccessToken)
        if self.is_revoked(token):
            raise SessionRevoked()
        return token

    def is_revoked(self, token: jwt.AccessToken) -> bool:
        session_id, refresh_jti = token[jwt.SESSION_CLAIM], token[jwt.PARENT_CLAIM]
        try:
            return revocation.is_revoked(
                session_id=session_id, refresh_jti=refresh_jti, user_id=token[jwt.USER_ID_CLAIM],
                # A token from before session start times were stamped falls under any cut-off.
                session_start=token.payload.get(jwt.SESSION_START_CLAIM, 0),
            )
        except RevocationStoreUnavailable:
            if token_settings.REVOCATION_FAILURE_MODE != "database" or token_settings.ROLE == "verifier":
                raise AuthUnavailable()
        return selectors.is_revoked_in_database(session_id=session_id, refresh_jti=refresh_jti)

    def get_user(self, validated_token) -> FlowAuthUser:
        return FlowAuthUser(validated_token)


class DjangoSessionAuthentication(SessionAuthentication):
    """DRF's session class (with its CSRF check), answering 401 rather than 403."""

    def authenticate_header(self, request) -> str:
        return f'Bearer realm="{REALM}"'
