"""FlowAuth settings: the only module that reads the environment.

Every variable has a default that works on a laptop with nothing installed:
SQLite under var/, and an embedded Redis server when REDIS_URL is unset.
"""

import hashlib
import json
import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from flowauth import embedded_redis, redis_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)


def _secret_key() -> str:
    key = env.str("SECRET_KEY", default="")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    # Development only: generated once, kept under var/ so restarts keep sessions.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "flowauth.apps.AdminConfig",  # django.contrib.admin, its login throttled like the API's
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",  # second factors (docs/mfa.md); before accounts: accounts/admin.py hides their admins
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_tasks",  # the task queue for mail and webhooks (docs/recovery.md)
    "django_tasks_db",
    "accounts",
    "tokens",
]

MIDDLEWARE = [
    "flowauth.observability.RequestMetricsMiddleware",  # outermost: every answer is counted
    # JSON errors on /api/, /metrics, /media/; no-store on /api/ (flowauth/jsonerrors.py).
    "flowauth.jsonerrors.JSONErrorsMiddleware",
    "flowauth.jsonerrors.APIResponseMiddleware",
    "flowauth.bodylimit.BodyLimitMiddleware",  # 413 before a byte of an oversized body is read
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Session logins (API and admin) ended by a user's cut-off are flushed before their user is read.
    "tokens.django_sessions.SessionCutoffMiddleware",
    "flowauth.jsonerrors.SlashMiddleware",  # Django's CommonMiddleware; APPEND_SLASH never redirects a POST
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "flowauth.urls"
WSGI_APPLICATION = "flowauth.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database ---------------------------------------------------------------

VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent refreshes must queue for the write lock, not fail with
    # "database is locked": wait, take the lock at BEGIN, and let readers
    # proceed beside the writer (WAL).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        **DATABASES["default"].get("OPTIONS", {}),  # options in DATABASE_URL win
    }
    # A file, not :memory:, so test server processes share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_db.sqlite3")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
# A persistent connection is checked before a request reuses it: after a database failover
# the next request reconnects (multi-host DATABASE_URL, target_session_attrs=read-write).
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", env.bool("CONN_HEALTH_CHECKS", default=False))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# MariaDB / MySQL (requirements/mysql.txt: mysqlclient) ---------------------
if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    DATABASES["default"]["OPTIONS"] = {
        "charset": "utf8mb4",
        # READ COMMITTED, like PostgreSQL: the rotation compare-and-set re-reads
        # committed rows after a lost race instead of a repeatable-read snapshot.
        "isolation_level": "read committed",
        "init_command": "SET sql_mode='STRICT_TRANS_TABLES'",
        **DATABASES["default"].get("OPTIONS", {}),  # options in DATABASE_URL win
    }
    DATABASES["default"]["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}

# MongoDB (requirements/mongodb.txt: django-mongodb-backend) ----------------
# DATABASE_URL=mongodb://[user:pass@]host[:port]/name[?options]; see the README
# for what is and is not verified, and the extra steps the backend needs.


def _mongodb(url: str) -> dict:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name:
        raise ImproperlyConfigured("a mongodb:// DATABASE_URL must name its database: mongodb://host/flowauth")
    return {
        "ENGINE": "django_mongodb_backend",
        "NAME": name,
        "HOST": urlunsplit((parts.scheme, parts.netloc, "/", parts.query, "")),
    }


if env.str("DATABASE_URL", default="").startswith(("mongodb://", "mongodb+srv://")):
    DATABASES["default"] = _mongodb(env.str("DATABASE_URL"))
    DEFAULT_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"

# Redis: revocation store, caches, throttles, Django sessions --------------

REDIS_URL = env.str("REDIS_URL", default="") or embedded_redis.url()
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=1.0)

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "flowauth:cache",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            # Errors must surface: a swallowed error would read as "no data".
            "IGNORE_EXCEPTIONS": False,
        },
    }
}
# A Sentinel-managed primary (REDIS_URL=redis+sentinel://...; docs/scaling.md): the cache,
# throttles and sessions follow the primary the Sentinels name. DefaultClient, not
# django-redis' SentinelClient: that one reads from replicas, which may lag behind a logout.
if redis_url.is_sentinel(REDIS_URL):
    _sentinel = redis_url.parse(REDIS_URL)
    CACHES["default"]["LOCATION"] = _sentinel.django_redis_location()
    CACHES["default"]["OPTIONS"].update(
        {
            "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
            "SENTINELS": list(_sentinel.sentinels),
            "SENTINEL_KWARGS": _sentinel.sentinel_kwargs(REDIS_SOCKET_TIMEOUT),
        }
    )
# A Redis Cluster (REDIS_URL=redis+cluster://host:port,...; docs/scaling.md): the cache,
# throttles and sessions go to each key's primary (flowauth/cluster_cache.py).
if redis_url.is_cluster(REDIS_URL):
    redis_url.parse_cluster(REDIS_URL)  # a malformed URL stops the start, naming the part at fault
    CACHES["default"]["LOCATION"] = [REDIS_URL]  # one entry: django-redis would split it at the commas
    CACHES["default"]["OPTIONS"]["CONNECTION_FACTORY"] = "flowauth.cluster_cache.ClusterConnectionFactory"
SESSION_ENGINE = "django.contrib.sessions.backends.cache"

# Authentication ---------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
PASSWORD_HASHERS = [
    "accounts.hashers.FlowAuthArgon2PasswordHasher",
    "accounts.hashers.LegacyBCryptSHA256PasswordHasher",
    "accounts.hashers.LegacyBCryptPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

JWT_ALGORITHM = env.str("JWT_ALGORITHM", default="HS256")

FLOWAUTH_TOKENS = {
    "ACCESS_TOKEN_LIFETIME": env.int("ACCESS_TOKEN_LIFETIME", default=900),
    "REFRESH_TOKEN_LIFETIME": env.int("REFRESH_TOKEN_LIFETIME", default=1_209_600),
    "SESSION_MAX_AGE": env.int("SESSION_MAX_AGE", default=7_776_000),
    "REFRESH_GRACE_SECONDS": env.int("REFRESH_GRACE_SECONDS", default=10),
    # Clock skew accepted on exp/nbf/iat; revocations last that much longer too.
    "LEEWAY": env.int("JWT_LEEWAY", default=0),
    "REVOCATION_FAILURE_MODE": env.str("REVOCATION_FAILURE_MODE", default="closed"),
    "ALGORITHM": JWT_ALGORITHM,
    # HS*: a key of its own, derived from SECRET_KEY but never equal to it.
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default="")
    or hashlib.sha256(b"flowauth-jwt:" + SECRET_KEY.encode()).hexdigest(),
    "REDIS_URL": REDIS_URL,
    "REDIS_SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
    # Local revocation verdict cache kept by Redis invalidation pushes (docs/revocation-fast-path.md).
    "REVOCATION_LOCAL_CACHE": env.bool("REVOCATION_LOCAL_CACHE", default=True),
    "REVOCATION_STRICT": env.bool("REVOCATION_STRICT", default=False),
    "REVOCATION_LEASE": env.float("REVOCATION_LEASE", default=0.5),
    "REVOCATION_HEARTBEAT": env.float("REVOCATION_HEARTBEAT", default=0.1),
    "REVOCATION_LOCAL_CACHE_MAX_AGE": env.float("REVOCATION_LOCAL_CACHE_MAX_AGE", default=1.0),
}
if FLOWAUTH_TOKENS["REVOCATION_FAILURE_MODE"] not in ("closed", "database"):
    raise ImproperlyConfigured("REVOCATION_FAILURE_MODE must be 'closed' or 'database'")

# Asymmetric signing keys (JWT_ALGORITHM RS256, ES256 or EdDSA) -------------
# JWT_PRIVATE_KEY: PEM text ("\n" escapes allowed), or JWT_PRIVATE_KEY_FILE: a path.
# JWT_PUBLIC_KEYS: JSON {"kid": "PEM", ...} or a JWKS document, or
# JWT_PUBLIC_KEYS_FILE: a path to either. Keys listed there keep verifying
# (key rotation); the signing key's own public key is always accepted.


def _text_or_file(name: str) -> str:
    text = env.str(name, default="").replace("\\n", "\n")
    path = env.str(f"{name}_FILE", default="")
    if text and path:
        raise ImproperlyConfigured(f"set {name} or {name}_FILE, not both")
    return Path(path).read_text() if path else text


def _public_keys(raw: str) -> dict:
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise ImproperlyConfigured("JWT_PUBLIC_KEYS must be a JSON object or a JWKS document") from exc
    if not isinstance(parsed, dict):
        raise ImproperlyConfigured("JWT_PUBLIC_KEYS must be a JSON object or a JWKS document")
    return parsed


FLOWAUTH_TOKENS.update(
    {
        "PRIVATE_KEY": _text_or_file("JWT_PRIVATE_KEY"),
        "PUBLIC_KEYS": _public_keys(_text_or_file("JWT_PUBLIC_KEYS")),
        "SIGNING_KID": env.str("JWT_KEY_ID", default=""),
        "JWKS_MAX_AGE": env.int("JWKS_MAX_AGE", default=300),
        # Checked on every token when set; set both whenever sibling services verify tokens.
        "AUDIENCE": env.str("JWT_AUDIENCE", default="") or None,
        "ISSUER": env.str("JWT_ISSUER", default="") or None,
    }
)

# DPoP (RFC 9449, docs/dpop.md): sender-constrained sessions.
FLOWAUTH_TOKENS.update(
    {
        "DPOP_PROOF_MAX_AGE": env.int("DPOP_PROOF_MAX_AGE", default=60),
        "DPOP_NONCE": env.bool("DPOP_NONCE", default=False),
        "DPOP_NONCE_LIFETIME": env.int("DPOP_NONCE_LIFETIME", default=300),
        "DPOP_REQUIRED": env.bool("DPOP_REQUIRED", default=False),
    }
)
MIDDLEWARE.append("tokens.dpop_middleware.DPoPNonceMiddleware")

# simplejwt reads its own settings object; FlowAuth's token classes and
# backend come from tokens.settings, so only the claim names matter here.
SIMPLE_JWT = {
    "USER_ID_CLAIM": "user_id",
    "TOKEN_TYPE_CLAIM": "token_type",
    "JTI_CLAIM": "jti",
    "SIGNING_KEY": FLOWAUTH_TOKENS["SIGNING_KEY"],
    "ALGORITHM": "HS256",
    "AUTH_TOKEN_CLASSES": ("tokens.jwt.AccessToken",),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tokens.authentication.FlowAuthAuthentication",
        "tokens.authentication.DjangoSessionAuthentication",  # session login (README "Session login")
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "flowauth.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "flowauth.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "STRICT_JSON": True,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "FlowAuth API",
    "DESCRIPTION": "Register, log in, rotating refresh tokens and revocation enforced on every server.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The UI's assets are static files from drf-spectacular-sidecar, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# HTTP -------------------------------------------------------------------

COOKIE_SECURE = env.bool("COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_SECURE = COOKIE_SECURE
CSRF_COOKIE_SECURE = COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
# Submitting a domain to the browsers' preload list is its owner's decision (check --deploy W021).
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Every request body, files included: refused with 413 before it is read (flowauth/bodylimit.py).
REQUEST_BODY_MAX_BYTES = env.int("REQUEST_BODY_MAX_BYTES", default=DATA_UPLOAD_MAX_MEMORY_SIZE)
FILE_UPLOAD_HANDLERS = [
    "flowauth.bodylimit.BoundedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# WhiteNoise serves static files straight from the apps (no collectstatic step), under DEBUG and gunicorn alike.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # collectstatic's target, if one is run; WhiteNoise warns when absent
MEDIA_URL = "media/"
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))

# Logs: auth events as one line each, never a token or a password: JSON lines by
# default in production, plain text under DEBUG, tokens redacted either way, and
# Django's own loggers (runserver's access log django.server, django.request,
# django.security, the rest of "django") write through the same redaction.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured("LOG_FORMAT must be 'json' or 'plain'")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "flowauth.logformat.RedactingFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {"()": "flowauth.logformat.JSONFormatter"},
        "django.server": {
            "()": "flowauth.logformat.RedactingServerFormatter",
            "fmt": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "filters": {"redact_tokens": {"()": "flowauth.logformat.RedactTokens"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["redact_tokens"]},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server", "filters": ["redact_tokens"]},
    },
    "loggers": {
        "flowauth": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        "django.security": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# Abuse limits, fault handling, observability --------------------------------

# Throttles (flowauth/throttles.py), every scope's rate here and only here: "<count>/<s|min|hour|day>", counted
# atomically in Redis; every attempt counts, before the password is hashed.
FLOWAUTH_THROTTLE_RATES = {
    "login_email": env.str("LOGIN_THROTTLE_RATE", default="5/min"),
    "login_ip": env.str("LOGIN_IP_THROTTLE_RATE", default="") or env.str("LOGIN_THROTTLE_RATE", default="5/min"),
    # The current password of a password change is a guess too: the same rate, per account.
    "password_user": env.str("LOGIN_THROTTLE_RATE", default="5/min"),
    "register_ip": env.str("REGISTER_THROTTLE_RATE", default="20/hour"),
    "refresh_ip": env.str("REFRESH_THROTTLE_RATE", default="120/min"),
    # RFC 7009 / 7662 endpoints, per client IP.
    "revoke": env.str("REVOKE_THROTTLE_RATE", default="30/min"),
    "introspect": env.str("INTROSPECT_THROTTLE_RATE", default="600/min"),
    # Account recovery (docs/recovery.md): reset requests per email and per IP, codes tried per IP.
    "reset_email": env.str("RESET_THROTTLE_RATE", default="5/hour"),
    "reset_ip": env.str("RESET_IP_THROTTLE_RATE", default="20/hour"),
    "code_ip": env.str("CODE_IP_THROTTLE_RATE", default="30/hour"),
}

# Seconds a client is told to wait (Retry-After) when authentication is unavailable (503).
UNAVAILABLE_RETRY_AFTER = env.int("UNAVAILABLE_RETRY_AFTER", default=5)

# A database that does not answer must cost seconds, not a worker.
DATABASE_CONNECT_TIMEOUT = env.int("DATABASE_CONNECT_TIMEOUT", default=3)
if DATABASES["default"]["ENGINE"] in ("django.db.backends.postgresql", "django.db.backends.mysql"):
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", DATABASE_CONNECT_TIMEOUT)

# Prometheus: /metrics for METRICS_TOKEN bearers, or loopback clients when unset.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# gunicorn: an empty directory shared by the workers (prometheus_client reads it too).
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
CSRF_FAILURE_VIEW = "flowauth.jsonerrors.csrf_failure"
# Error pages and mails never show a secret setting, a POST value or a token (flowauth/debugpage.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "flowauth.debugpage.FlowAuthExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "flowauth.debugpage.FlowAuthExceptionReporter"

# Browser clients and RFC 7009/7662 endpoints ------------------------------
# Cookie mode (tokens as HttpOnly cookies), Django session login, /revoke and
# /introspect. See the README sections "Cookie mode" and "Session login".

AUTH_COOKIE_SAMESITE = env.str("AUTH_COOKIE_SAMESITE", default="Strict")
if AUTH_COOKIE_SAMESITE not in ("Lax", "Strict"):
    raise ImproperlyConfigured("AUTH_COOKIE_SAMESITE must be 'Lax' or 'Strict'")
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=1_209_600)
# Service credentials for /introspect, HTTP Basic: "id:secret,id2:secret2".
INTROSPECTION_CLIENTS = dict(
    pair.split(":", 1) for pair in env.list("INTROSPECTION_CLIENTS", default=[]) if ":" in pair
)

# Second factors and step-up (docs/mfa.md) ----------------------------------
# "Recent" authentication for sensitive operations: auth_time within this many seconds.
REAUTH_MAX_AGE = env.int("REAUTH_MAX_AGE", default=600)
# Staff cannot use the admin without a confirmed second factor.
MFA_REQUIRED_FOR_STAFF = env.bool("MFA_REQUIRED_FOR_STAFF", default=not DEBUG)
# The second step of a login: how long its mfa_token lives and how many codes it may try.
MFA_TOKEN_LIFETIME = env.int("MFA_TOKEN_LIFETIME", default=300)
MFA_TOKEN_MAX_TRIES = 5
# The authenticator app's label; codes are RFC 6238 defaults (SHA-1, 6 digits, 30 s).
OTP_TOTP_ISSUER = env.str("MFA_ISSUER", default="FlowAuth")
# django-otp's per-device back-off is replaced by the mfa_token's tries and the
# per-account login throttle (atomic, shared by every server): a guesser cannot
# lock the owner out of a device for hours.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
# One step of clock skew either way, and no drift learning from a guess.
OTP_TOTP_SYNC = False

# Account recovery and verification (docs/recovery.md) ----------------------

# Mail and other slow work run from a task queue (Django's tasks framework
# through the django-tasks backport), stored in the database: `manage.py
# db_worker` runs them; no other server is needed.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# EMAIL_URL (smtp://user:password@host:587, smtp+tls://..., smtp+ssl://...) or the usual EMAIL_* settings;
# without either, mail is written to the console (the worker's output).
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
    EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
    EMAIL_PORT = env.int("EMAIL_PORT", default=25)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
    EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="FlowAuth <no-reply@localhost>")
# Where a reset or verification link points ({token} is replaced); empty: the mail carries the code only.
FRONTEND_RESET_URL = env.str("FRONTEND_RESET_URL", default="")
FRONTEND_VERIFY_URL = env.str("FRONTEND_VERIFY_URL", default="")
# Seconds a code or link is valid; a code dies after this many wrong tries.
VERIFICATION_CODE_LIFETIME = env.int("VERIFICATION_CODE_LIFETIME", default=900)
VERIFICATION_CODE_MAX_ATTEMPTS = 5
# On: login and refresh of an account whose address is not verified answer 403 email_unverified.
REQUIRE_VERIFIED_EMAIL = env.bool("REQUIRE_VERIFIED_EMAIL", default=False)
# Outbound webhooks (tokens/webhooks.py): receivers, the signing secret (whsec_<base64>), retries.
WEBHOOK_URLS = env.list("WEBHOOK_URLS", default=[])
WEBHOOK_SECRET = env.str("WEBHOOK_SECRET", default="")
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=6)
WEBHOOK_RETRY_BASE = env.int("WEBHOOK_RETRY_BASE", default=10)
WEBHOOK_TIMEOUT = env.int("WEBHOOK_TIMEOUT", default=5)
