"""Shared OpenAPI pieces: the error shape and the error codes by status (from flowauth.errors).

Views list the codes they can answer; ``errors`` turns them into documented
responses, one per status, each naming its codes.
"""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers

from flowauth.errors import FlowAuthError

# DRF's own refusals; every other code is a class of flowauth.errors.
_DRF_ERRORS = (
    exceptions.NotAuthenticated,
    exceptions.PermissionDenied,
    exceptions.NotFound,
    exceptions.MethodNotAllowed,
    exceptions.Throttled,
)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def code_status() -> dict[str, int]:
    """Every error code a response can carry, with its status: read from the catalogue, never listed twice."""
    return {cls.default_code: cls.status_code for cls in (*_DRF_ERRORS, *_subclasses(FlowAuthError))}


ACCESS_CODES = ("not_authenticated", "token_expired", "token_invalid", "session_revoked", "auth_unavailable")

_GENERIC = {
    400: 'Validation error: DRF\'s field shape `{"<field>": ["<message>"]}`.',
    403: "Forbidden (`permission_denied`), e.g. a cookie or session request without a valid CSRF token.",
}


class ErrorSerializer(serializers.Serializer):
    """Every error response: ``{"detail": ..., "code": ...}``."""

    detail = serializers.CharField()
    code = serializers.CharField()


def errors(*codes_or_statuses) -> dict:
    """Responses for API error codes (or bare statuses), grouped by status."""
    grouped: dict[int, list[str]] = {}
    statuses = code_status()
    for item in codes_or_statuses:
        if isinstance(item, int):
            grouped.setdefault(item, [])
        else:
            grouped.setdefault(statuses[item], []).append(item)
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
        "X-Auth-Mode",
        str,
        OpenApiParameter.HEADER,
        required=False,
        enum=["cookie"],
        description="`cookie`: tokens are set and cleared as HttpOnly cookies, never in the body.",
    )
