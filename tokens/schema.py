"""OpenAPI description of the authentication classes, for drf-spectacular."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension

from tokens import cookies


class FlowAuthAuthenticationScheme(OpenApiAuthenticationExtension):
    """The Bearer header, or (cookie mode) the access cookie: either one."""

    target_class = "tokens.authentication.FlowAuthAuthentication"
    name = ["bearerAuth", "accessCookie"]

    def get_security_requirement(self, auto_schema):
        return [{"bearerAuth": []}, {"accessCookie": []}]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            {
                "type": "apiKey",
                "in": "cookie",
                "name": cookies.access_cookie_name(),
                "description": "Cookie mode; writes also need the X-CSRFToken header.",
            },
        ]


class DjangoSessionScheme(OpenApiAuthenticationExtension):
    target_class = "tokens.authentication.DjangoSessionAuthentication"
    name = "sessionCookie"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": "Session login; writes also need the X-CSRFToken header.",
        }


class IntrospectionClientScheme(OpenApiAuthenticationExtension):
    target_class = "tokens.oauth_views.IntrospectionClientAuthentication"
    name = "introspectionClient"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "basic", "description": "An id:secret pair of INTROSPECTION_CLIENTS."}
