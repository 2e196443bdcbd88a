"""OpenAPI description of the authentication class, for drf-spectacular."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class FlowAuthAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "tokens.authentication.FlowAuthAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
