from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from flowauth.observability import metrics_view
from tokens.views import JWKSView


def media(request, path):
    """Uploaded files (avatars). MEDIA_ROOT is read per request; nothing served here may run script."""
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/auth/", include("accounts.urls")),
    path("api/auth/", include("tokens.urls")),
    path("api/session/", include("accounts.session_urls")),
    path(".well-known/jwks.json", JWKSView.as_view(), name="jwks"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("metrics", metrics_view, name="metrics"),
    re_path(r"^media/(?P<path>.*)$", media),
]
