from django.conf import settings
from django.contrib import admin
from django.core.exceptions import SuspiciousFileOperation
from django.http import Http404
from django.urls import include, path, re_path
from django.views.decorators.http import require_safe
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView

from flowauth.docs import SwaggerView
from flowauth.health import HealthView
from flowauth.observability import metrics_view
from tokens.views import JWKSView


@require_safe  # GET and HEAD: the files are read-only (TRACE, POST: 405)
def media(request, path):
    """Uploaded files (avatars). MEDIA_ROOT is read per request; nothing served here may run script."""
    try:
        response = serve(request, path, document_root=settings.MEDIA_ROOT)
    except SuspiciousFileOperation:  # "../" out of MEDIA_ROOT: nothing there, as far as a client knows
        raise Http404() from None
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/auth/health", HealthView.as_view(), name="health"),
    path("api/auth/", include("accounts.urls")),
    path("api/auth/", include("tokens.urls")),
    path("api/session/", include("accounts.session_urls")),
    path(".well-known/jwks.json", JWKSView.as_view(), name="jwks"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="docs"),
    path("metrics", metrics_view, name="metrics"),
    re_path(r"^media/(?P<path>.*)$", media),
]

handler400 = "flowauth.jsonerrors.bad_request"
handler403 = "flowauth.jsonerrors.permission_denied"
handler404 = "flowauth.jsonerrors.page_not_found"
handler500 = "flowauth.jsonerrors.server_error"
