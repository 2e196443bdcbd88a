"""RFC 7009 revocation and RFC 7662 introspection of FlowAuth's own tokens.

Both accept either token type and try each (a wrong ``token_type_hint`` only
changes the order). Revoking either token ends its whole session: the
refresh token and every access token of that session are refused after.
Introspection gives the same verdict as the authentication class (access
tokens) and as rotation's preconditions (refresh tokens: the stored row).
"""

from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError

from flowauth.errors import FlowAuthError, TokenExpired, TokenInvalid
from tokens import jwt, services
from tokens.authentication import FlowAuthAuthentication
from tokens.models import RefreshToken, RevokeReason, Session
from tokens.settings import token_settings

REFRESH_HINT = "refresh_token"
INACTIVE = {"active": False}


def _decoders(hint: str | None) -> list:
    order = [jwt.AccessToken, jwt.RefreshToken]
    return order[::-1] if hint == REFRESH_HINT else order


def _decode(raw: str, hint: str | None):
    """The verified token (signature, expiry, claims), or None."""
    for token_class in _decoders(hint):
        try:
            return token_class(raw)
        except TokenError:
            continue
    return None


def _session_of(token) -> Session | None:
    if isinstance(token, jwt.AccessToken):
        sessions = Session.objects.filter(pk=token[jwt.SESSION_CLAIM])
    else:
        row = RefreshToken.objects.filter(jti=token["jti"], session_id=token[jwt.SESSION_CLAIM]).first()
        sessions = Session.objects.filter(pk=row.session_id) if row else Session.objects.none()
    return sessions.filter(user_id=token[jwt.USER_ID_CLAIM]).first()


def revoke_token(raw: str, *, hint: str | None = None) -> None:
    """End the session of a valid token; do nothing, silently, for anything else.

    Raises RevocationStoreUnavailable (or a DatabaseError) when the revocation
    could not be recorded, so the caller never reports a success that isn't.
    """
    token = _decode(raw, hint)
    session = _session_of(token) if token is not None else None
    if session is not None:
        services.revoke_session(session, reason=RevokeReason.REVOKE_ENDPOINT)


def introspect(raw: str, *, hint: str | None = None) -> dict:
    """RFC 7662 answer: the claims of a live token, else exactly ``{"active": False}``."""
    for token_class in _decoders(hint):
        claims = _live_claims(token_class, raw)
        if claims is not None:
            return {"active": True, **claims}
    return dict(INACTIVE)


def _live_claims(token_class, raw: str) -> dict | None:
    if token_class is jwt.AccessToken:
        try:
            token = FlowAuthAuthentication().get_validated_token(raw.encode(), bound_ok=True)  # cnf reported
        except FlowAuthError as exc:
            if exc.status_code == 503:
                raise
            return None
    else:
        try:
            token = jwt.decode(raw, jwt.RefreshToken)
        except (TokenExpired, TokenInvalid):
            return None
        if not _refresh_is_live(token):
            return None
    return _claims(token)


def _refresh_is_live(token: jwt.RefreshToken) -> bool:
    """Live exactly when rotation would accept it (bar the grace window)."""
    now = timezone.now()
    return RefreshToken.objects.filter(
        jti=token["jti"],
        session_id=token[jwt.SESSION_CLAIM],
        user_id=token[jwt.USER_ID_CLAIM],
        is_revoked=False,
        used_at__isnull=True,
        user__is_active=True,
        issued_at__gt=now - token_settings.REFRESH_TOKEN_LIFETIME,
        session__revoked_at__isnull=True,
        session__expires_at__gt=now,
        session__created_at__gt=now - token_settings.SESSION_MAX_AGE,
    ).exists()


def _claims(token) -> dict:
    payload = token.payload
    claims = {
        "sub": payload[jwt.USER_ID_CLAIM],
        "user_id": jwt.user_id_value(payload[jwt.USER_ID_CLAIM]),
        "jti": payload["jti"],
        "token_type": payload[jwt.TOKEN_TYPE_CLAIM],
        "exp": payload["exp"],
        "iat": payload["iat"],
        "sid": payload[jwt.SESSION_CLAIM],
    }
    for optional in ("iss", "aud", jwt.PARENT_CLAIM, "cnf"):  # cnf: RFC 9449 section 6.2
        if optional in payload:
            claims[optional] = payload[optional]
    return claims
