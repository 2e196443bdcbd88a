"""Every answer under /api/ (and /metrics, /media/) is JSON in the contract's shape.

Django answers some requests before any DRF view runs: unknown paths (its
404 page, the technical one under DEBUG), CSRF refusals of plain Django
views, a missing trailing slash on a POST (APPEND_SLASH), an unhandled
exception (its 500 page, the technical one under DEBUG). JSONErrorsMiddleware
replaces any such HTML error on these paths with ``{"detail", "code"}``; the
handlers below give the same answer where Django asks for one (DEBUG off).
"""

from django.http import JsonResponse
from django.middleware.common import CommonMiddleware
from django.views import defaults
from django.views.csrf import csrf_failure as django_csrf_failure

JSON_PREFIXES = ("/api/", "/metrics", "/media/")

ERRORS = {
    400: ("Bad request.", "bad_request"),
    403: ("You do not have permission to perform this action.", "permission_denied"),
    404: ("Not found.", "not_found"),
    405: ("Method not allowed.", "method_not_allowed"),
    413: ("The request body is too large.", "request_too_large"),
    500: ("Internal server error.", "server_error"),
}


def wants_json(request) -> bool:
    return request.path.startswith(JSON_PREFIXES)


def error_response(status: int, detail: str | None = None) -> JsonResponse:
    default_detail, code = ERRORS.get(status, ("Error.", "error"))
    response = JsonResponse({"detail": detail or default_detail, "code": code}, status=status)
    response["Cache-Control"] = "no-store"
    return response


class JSONErrorsMiddleware:
    """Outermost: whatever produced an HTML error on a JSON path, the client gets JSON."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code < 400 or not wants_json(request):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        replacement = error_response(response.status_code)
        if response.has_header("Allow"):
            replacement["Allow"] = response["Allow"]
        return replacement


class APIResponseMiddleware:
    """Personal data and tokens are never cached: every /api/ answer without its own Cache-Control is no-store."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith("/api/") and not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
        return response


class SlashMiddleware(CommonMiddleware):
    """APPEND_SLASH for GET and HEAD only: a POST cannot be redirected (a 500 under DEBUG), it is a 404."""

    def should_redirect_with_slash(self, request) -> bool:
        return request.method in ("GET", "HEAD") and super().should_redirect_with_slash(request)


def csrf_failure(request, reason: str = ""):
    if wants_json(request):
        return error_response(403, f"CSRF Failed: {reason}")
    return django_csrf_failure(request, reason=reason)


def bad_request(request, exception=None):
    return error_response(400) if wants_json(request) else defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    return error_response(403) if wants_json(request) else defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    return error_response(404) if wants_json(request) else defaults.page_not_found(request, exception)


def server_error(request):
    return error_response(500) if wants_json(request) else defaults.server_error(request)
