"""Swagger UI, from drf-spectacular-sidecar's copy of swagger-ui-dist (SWAGGER_UI_DIST="SIDECAR").

Served from static files, so the docs work offline and the UI is the pinned
version, never a CDN's latest. GET and HEAD only: its HTML renderer has no
answer for OPTIONS.
"""

from drf_spectacular.views import SpectacularSwaggerView


class SwaggerView(SpectacularSwaggerView):
    http_method_names = ["get", "head"]
