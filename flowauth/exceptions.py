"""One exception handler shapes every error response.

``{"detail": ..., "code": ...}`` for errors, DRF's field shape for
validation errors; every 401 carries RFC 6750's WWW-Authenticate.
"""

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError, DataError, IntegrityError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from flowauth.errors import (
    REALM,
    AuthUnavailable,
    FlowAuthError,
    InvalidData,
    RequestTooLarge,
    RevocationStoreUnavailable,
    ServerError,
    retry_after,
)

logger = logging.getLogger("flowauth.errors")


def _quoted(value: str) -> str:
    clean = " ".join(str(value).split()).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{clean}"'


def exception_handler(exc, context):
    if isinstance(exc, RevocationStoreUnavailable):
        exc = AuthUnavailable()
    elif isinstance(exc, DataError):  # the database cannot store a value the request sent
        logger.warning("database refused a value: %s", type(exc).__name__)
        exc = InvalidData()
    elif isinstance(exc, IntegrityError):  # expected conflicts are caught by services: this is a bug
        logger.error("integrity error", exc_info=exc, extra={"request": context.get("request")})
        exc = ServerError()
    elif isinstance(exc, DatabaseError):  # OperationalError, InterfaceError: an outage
        logger.error("database unavailable: %s", type(exc).__name__)
        exc = AuthUnavailable()
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    elif isinstance(exc, SuspiciousOperation):  # too many fields or files: Django refused to read it
        exc = exceptions.ParseError()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if not isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, str):
        response.data = {"detail": str(exc.detail), "code": exc.detail.code}
        if isinstance(getattr(exc, "extra", None), dict):  # mfa_required's mfa_token
            response.data.update(exc.extra)
    if response.status_code == 401:
        header = f'Bearer realm="{REALM}"'
        if isinstance(exc, FlowAuthError) and exc.bearer_error:
            header += f', error="{exc.bearer_error}", error_description={_quoted(exc.detail)}'
        response["WWW-Authenticate"] = header
        if getattr(exc, "dpop_error", None):  # RFC 9449 section 7.1; DPoP-Nonce: tokens/dpop_middleware.py
            response["WWW-Authenticate"] = (
                f'DPoP algs="{exc.dpop_algs}", error="{exc.dpop_error}", error_description={_quoted(exc.detail)}'
            )
    if response.status_code == 403 and isinstance(exc, FlowAuthError) and exc.bearer_error:
        response["WWW-Authenticate"] = f'Bearer realm="{REALM}", error="{exc.bearer_error}"'
    if getattr(exc, "oauth_error", None):  # RFC 6749 §5.2 members beside DRF's
        response.data.update(error=exc.oauth_error, error_description=response.data["detail"])
    if response.status_code == 503:
        response["Retry-After"] = str(retry_after())
    response["Cache-Control"] = "no-store"
    return response
