"""FlowAuth's settings plus the baselines the benchmark compares against.

One server hosts every side, so each pays the same middleware, database
connection and gunicorn configuration: FlowAuth's own endpoints, and the
same probe view behind simplejwt's and DRF's authentication classes. The
baselines need simplejwt's token_blacklist app and DRF's authtoken app.
"""

from datetime import timedelta

from flowauth.settings import *  # noqa: F401,F403
from flowauth.settings import FLOWAUTH_TOKENS, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "rest_framework.authtoken", "rest_framework_simplejwt.token_blacklist"]
ROOT_URLCONF = "bench.urls"

# simplejwt as its documentation sets up rotation with a blacklist, on FlowAuth's HMAC key and lifetimes.
SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": FLOWAUTH_TOKENS["SIGNING_KEY"],
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=FLOWAUTH_TOKENS["ACCESS_TOKEN_LIFETIME"]),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=FLOWAUTH_TOKENS["REFRESH_TOKEN_LIFETIME"]),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
}
