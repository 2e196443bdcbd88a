"""Shared OpenAPI pieces: the error shape and API.md's error codes by status.

Views list the codes they can answer; ``errors`` turns them into documented
responses, one per status, each naming its codes.
"""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

CODE_STATUS = {
    "invalid_request": 400,
    "not_authenticated": 401,
    "token_expired": 401,
    "token_invalid": 401,
    "session_revoked": 401,
    "refresh_reused": 401,
    "invalid_credentials": 401,
    "invalid_client": 401,
    "permission_denied": 403,
    "insufficient_scope": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "email_taken": 409,
    "throttled": 429,
    "auth_unavailable": 503,
}
CODE_STATUS.update({"invalid_code": 400, "email_unverified": 403})  # account recovery and verification
ACCESS_CODES = ("not_authenticated", "token_expired", "token_invalid", "session_revoked", "auth_unavailable")

_GENERIC = {
    400: "Validation error: DRF's field shape `{\"<field>\": [\"<message>\"]}`.",
    403: "Forbidden (`permission_denied`), e.g. a cookie or session request without a valid CSRF token.",
}


class ErrorSerializer(serializers.Serializer):
    """Every error response: ``{"detail": ..., "code": ...}``."""

    detail = serializers.CharField()
    code = serializers.CharField()


def errors(*codes_or_statuses) -> dict:
    """Responses for API error codes (or bare statuses), grouped by status."""
    grouped: dict[int, list[str]] = {}
    for item in codes_or_statuses:
        if isinstance(item, int):
            grouped.setdefault(item, [])
        else:
            grouped.setdefault(CODE_STATUS[item], []).append(item)
    responses = {}
    for status_code, codes in sorted(grouped.items()):
        if codes:
            description = "Codes: " + ", ".join(f"`{code}`" for code in codes)
        else:
            description = _GENERIC.get(status_code, "Error")
        responses[status_code] = OpenApiResponse(response=ErrorSerializer, description=description)
    return responses


def cookie_mode_header():
    """The request header that switches login, refresh and logout to cookie mode."""
    from drf_spectacular.utils import OpenApiParameter

    return OpenApiParameter(
        "X-Auth-Mode", str, OpenApiParameter.HEADER, required=False, enum=["cookie"],
        description="`cookie`: tokens are set and cleared as HttpOnly cookies, never in the body.",
    )
