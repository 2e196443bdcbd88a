"""Cookie mode: tokens delivered to browsers as HttpOnly cookies.

A client asks for cookie mode with the request header ``X-Auth-Mode: cookie``
on login, refresh and logout. A custom header cannot be sent cross-site
without a CORS preflight (which FlowAuth never grants), so a forged form
cannot log a browser in (login CSRF).

Names follow the cookie prefixes of RFC 6265bis: ``__Host-`` needs Secure,
``Path=/`` and no Domain; ``__Secure-`` needs Secure. Browsers drop prefixed
cookies without Secure, so plain names are used when ``COOKIE_SECURE`` is off.
"""

from datetime import datetime

from django.conf import settings
from django.middleware.csrf import CsrfViewMiddleware, get_token, rotate_token
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied

MODE_HEADER = "HTTP_X_AUTH_MODE"
MODE_COOKIE = "cookie"
REFRESH_PATH = "/api/auth/refresh"
_COOKIE_VIA = "_flowauth_cookie_auth"


def secure() -> bool:
    # A project that installs only the authentication class (a sibling) may not define it: secure by default.
    return bool(getattr(settings, "COOKIE_SECURE", True))


def access_cookie_name() -> str:
    return "__Host-flowauth_access" if secure() else "flowauth_access"


def refresh_cookie_name() -> str:
    return "__Secure-flowauth_refresh" if secure() else "flowauth_refresh"


def samesite() -> str:
    return getattr(settings, "AUTH_COOKIE_SAMESITE", "Strict")


def requested(request) -> bool:
    """True when the client asked for cookie mode, or authenticated by cookie."""
    return request.META.get(MODE_HEADER, "").strip().lower() == MODE_COOKIE or by_cookie(request)


def by_cookie(request) -> bool:
    return getattr(_django_request(request), _COOKIE_VIA, False)


def mark_by_cookie(request) -> None:
    setattr(_django_request(request), _COOKIE_VIA, True)


def _django_request(request):
    return getattr(request, "_request", request)


def _max_age(expires_at: datetime) -> int:
    return max(0, int((expires_at - timezone.now()).total_seconds()))


def _set(response, name: str, value: str, *, path: str, expires_at: datetime) -> None:
    response.set_cookie(
        name,
        value,
        max_age=_max_age(expires_at),
        path=path,
        secure=secure(),
        httponly=True,
        samesite=samesite(),
    )


def set_pair(response, request, pair) -> None:
    """Set both token cookies from a TokenPair (a refresh keeps the page's CSRF token)."""
    _set(response, access_cookie_name(), pair.access, path="/", expires_at=pair.access_expires_at)
    _set(response, refresh_cookie_name(), pair.refresh, path=REFRESH_PATH, expires_at=pair.refresh_expires_at)
    get_token(_django_request(request))  # CsrfViewMiddleware sets the csrftoken cookie if missing
    response["Cache-Control"] = "no-store"


def start_csrf(request) -> None:
    """A new CSRF token at login, as django.contrib.auth.login does."""
    rotate_token(_django_request(request))


def clear(response) -> None:
    """Expire both cookies: same name and path, empty value, Max-Age=0."""
    response.delete_cookie(access_cookie_name(), path="/", samesite=samesite())
    response.delete_cookie(refresh_cookie_name(), path=REFRESH_PATH, samesite=samesite())
    response["Cache-Control"] = "no-store"


def body(pair) -> dict:
    """What a cookie-mode response says about the pair: lifetimes, never the tokens."""
    return {"access_expires_at": pair.access_expires_at, "refresh_expires_at": pair.refresh_expires_at}


class _CSRFCheck(CsrfViewMiddleware):
    def _reject(self, request, reason):
        return reason  # the reason itself, not Django's HTML 403 page


def enforce_csrf(request) -> None:
    """Django's CSRF check, as DRF's SessionAuthentication runs it (views are csrf_exempt)."""
    check = _CSRFCheck(lambda req: None)
    django_request = _django_request(request)
    check.process_request(django_request)
    reason = check.process_view(django_request, None, (), {})
    if reason:
        raise PermissionDenied(f"CSRF Failed: {reason}")
