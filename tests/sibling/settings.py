"""A minimal sibling service: verifies FlowAuth's access tokens itself.

No FlowAuth database and no call to FlowAuth per request: the public keys
come from the environment (or a JWKS URL fetched once), revocations from the
shared Redis. Run with ``DJANGO_SETTINGS_MODULE=tests.sibling.settings``.
"""

import json
import os

SECRET_KEY = os.environ["SIBLING_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.sibling.urls"
WSGI_APPLICATION = None
USE_TZ = True

# "tokens" is installed for its authentication class and checks; its models
# are never queried (ROLE "verifier"), and there is no database at all.
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "tokens",
]
DATABASES: dict = {}

FLOWAUTH_TOKENS = {
    "ROLE": "verifier",
    "ALGORITHM": os.environ.get("FLOWAUTH_ALGORITHM", "ES256"),
    "PUBLIC_KEYS": json.loads(os.environ.get("FLOWAUTH_PUBLIC_KEYS", "{}")),
    "JWKS_URL": os.environ.get("FLOWAUTH_JWKS_URL", ""),
    "REDIS_URL": os.environ["FLOWAUTH_REDIS_URL"],
    "REVOCATION_FAILURE_MODE": "closed",
    "AUDIENCE": os.environ.get("FLOWAUTH_AUDIENCE") or None,
    "ISSUER": os.environ.get("FLOWAUTH_ISSUER") or None,
    "ACCESS_TOKEN_LIFETIME": int(os.environ.get("FLOWAUTH_ACCESS_TOKEN_LIFETIME", "900")),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tokens.authentication.FlowAuthAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "flowauth.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
