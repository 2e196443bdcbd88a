"""FlowAuth's error codes (docs/api.md): one exception class each, defined once.

Project-wide: both apps raise these, flowauth/exceptions.py shapes them into
responses, and flowauth/openapi.py documents them from here.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException

# The realm of every WWW-Authenticate challenge FlowAuth sends.
REALM = "flowauth"


def retry_after() -> int:
    """Seconds a 503 tells the client to wait: ``UNAVAILABLE_RETRY_AFTER``, 5 in a project that does not set it."""
    from django.conf import settings

    return int(getattr(settings, "UNAVAILABLE_RETRY_AFTER", 5))


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


class RequestTooLarge(FlowAuthError):
    """The body is over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (or has too many fields): nothing was read."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")
    default_code = "request_too_large"


class RevocationStoreUnavailable(Exception):
    """Raised by the revocation store when Redis cannot answer or be written."""


class InvalidRequest(FlowAuthError):
    """RFC 6749 §5.2 ``invalid_request``; the response carries both shapes."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = _("The request is missing a required parameter: token.")
    default_code = "invalid_request"
    oauth_error = "invalid_request"


class InvalidClient(FlowAuthError):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = _("Client authentication failed.")
    default_code = "invalid_client"


class InsufficientScope(FlowAuthError):
    """A valid caller without the right to this endpoint (RFC 6750 §3.1)."""

    status_code = status.HTTP_403_FORBIDDEN
    default_detail = _("Staff or service credentials are required.")
    default_code = "insufficient_scope"
    bearer_error = "insufficient_scope"


class InvalidData(FlowAuthError):
    """A value the database refused to store (out of range, too long): the input's fault."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = _("A value in the request cannot be stored.")
    default_code = "invalid_data"


class ServerError(FlowAuthError):
    """A bug, logged with its traceback; the client sees only this."""

    status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
    default_detail = _("Internal server error.")
    default_code = "server_error"


# Second factors and step-up (docs/mfa.md), account recovery (docs/recovery.md) --


class MfaRequired(FlowAuthError):
    """The password was right; the account has a second factor: answer with the next step's token."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = _("A second factor is required: send a code with the mfa_token to the second step.")
    default_code = "mfa_required"

    def __init__(self, mfa_token: str):
        super().__init__()
        # Merged into the error body by flowauth.exceptions.exception_handler.
        self.extra = {"mfa_token": mfa_token}


class InvalidCode(FlowAuthError):
    """A wrong, replayed, used or expired code or link, or a dead second-step token: one answer for every reason."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = _("The code is invalid or has expired.")
    default_code = "invalid_code"


class ReauthRequired(FlowAuthError):
    """The operation needs an authentication more recent than REAUTH_MAX_AGE: POST /api/auth/reauth."""

    status_code = status.HTTP_403_FORBIDDEN
    default_detail = _("This operation needs a recent sign-in: re-authenticate and retry.")
    default_code = "reauth_required"


class EmailUnverified(FlowAuthError):
    status_code = status.HTTP_403_FORBIDDEN
    default_detail = _("Verify your email address first: a code was sent to it.")
    default_code = "email_unverified"


# DPoP (RFC 9449): refusals answered with a ``WWW-Authenticate: DPoP`` challenge (section 7.1).


class InvalidDPoPProof(FlowAuthError):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = _("The DPoP proof is missing or invalid.")
    default_code = "invalid_dpop_proof"
    dpop_error = "invalid_dpop_proof"
    dpop_algs = "ES256 EdDSA RS256"  # tokens.dpop.ALGORITHMS


class UseDPoPNonce(FlowAuthError):
    """The proof lacks the server's current nonce; the answer's ``DPoP-Nonce`` header has it."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = _("Retry with the server's DPoP nonce.")
    default_code = "use_dpop_nonce"
    dpop_error = "use_dpop_nonce"
    dpop_algs = "ES256 EdDSA RS256"
