"""API.md's error codes: one exception class each, defined once."""

from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException


class FlowAuthError(APIException):
    """Base class; `bearer_error` marks refusals of a presented token (RFC 6750)."""

    bearer_error: str | None = None


class TokenExpired(FlowAuthError):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = _("The token has expired.")
    default_code = "token_expired"
    bearer_error = "invalid_token"


class TokenInvalid(FlowAuthError):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = _("The token is invalid.")
    default_code = "token_invalid"
    bearer_error = "invalid_token"


class SessionRevoked(FlowAuthError):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = _("The session has ended.")
    default_code = "session_revoked"
    bearer_error = "invalid_token"


class RefreshReused(FlowAuthError):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = _("This refresh token was already used; the session has been ended.")
    default_code = "refresh_reused"
    bearer_error = "invalid_token"


class InvalidCredentials(FlowAuthError):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = _("Invalid email or password.")
    default_code = "invalid_credentials"


class EmailTaken(FlowAuthError):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("An account with this email already exists.")
    default_code = "email_taken"


class AuthUnavailable(FlowAuthError):
    """The revocation store (or the database behind it) cannot be trusted now."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("Authentication is temporarily unavailable; retry shortly.")
    default_code = "auth_unavailable"


class RevocationStoreUnavailable(Exception):
    """Raised by the revocation store when Redis cannot answer or be written."""
