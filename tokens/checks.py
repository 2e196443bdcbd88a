"""System checks on the signing configuration (``manage.py check``).

With DEBUG off, a weak or well-known HMAC key, or asymmetric keys that
cannot be loaded (wrong type, RSA under 2048 bits), fail the check.
"""

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

from tokens import keys
from tokens.settings import token_settings

MIN_HMAC_KEY_BYTES = 32
MAX_LEEWAY_SECONDS = 30
# Keys that ship in tutorials, templates and libraries' defaults.
KNOWN_DEFAULT_KEYS = {
    "secret",
    "changeme",
    "change-me",
    "your-256-bit-secret",
    "your-secret-key",
    "django-insecure",
    "insecure",
    "jwt-secret",
    "flowauth",
}


def _hmac_key_errors() -> list[Error]:
    key = token_settings.SIGNING_KEY or ""
    raw = key.encode() if isinstance(key, str) else bytes(key)
    if len(raw) < MIN_HMAC_KEY_BYTES:
        return [Error(f"The JWT HMAC signing key is shorter than {MIN_HMAC_KEY_BYTES} bytes.", id="tokens.E001")]
    if key.lower() in KNOWN_DEFAULT_KEYS or key == settings.SECRET_KEY or key.startswith("django-insecure-"):
        return [Error("The JWT HMAC signing key is a well-known default or the SECRET_KEY.", id="tokens.E002")]
    return []


def _keyset_errors() -> list[Error]:
    from tokens.jwt import get_keyset

    try:
        get_keyset()
    except (ImproperlyConfigured, ValueError, TypeError) as exc:
        return [Error(f"The JWT signing keys cannot be used: {exc}", id="tokens.E003")]
    return []


@register("security")
def signing_key_check(app_configs=None, **kwargs) -> list[Error]:
    if keys.is_asymmetric(token_settings.ALGORITHM):
        return _keyset_errors()
    if token_settings.ALGORITHM not in ("HS256",):
        return [Error(f"JWT algorithm {token_settings.ALGORITHM!r} is not supported.", id="tokens.E004")]
    if settings.DEBUG:
        return []
    return _hmac_key_errors()


@register("security")
def verifier_role_check(app_configs=None, **kwargs) -> list[Error]:
    errors = []
    if token_settings.ROLE not in ("issuer", "verifier"):
        errors.append(Error("FLOWAUTH_TOKENS['ROLE'] must be 'issuer' or 'verifier'.", id="tokens.E005"))
    if token_settings.ROLE == "verifier" and token_settings.REVOCATION_FAILURE_MODE != "closed":
        errors.append(
            Error(
                "A verifier has no database to fall back on: REVOCATION_FAILURE_MODE must be 'closed'.",
                id="tokens.E006",
            )
        )
    if token_settings.ROLE == "verifier" and not (token_settings.AUDIENCE and token_settings.ISSUER):
        errors.append(Warning("Tokens cross services: set AUDIENCE and ISSUER in both services.", id="tokens.W001"))
    return errors


@register("security")
def leeway_check(app_configs=None, **kwargs) -> list[Error]:
    """Clock-skew leeway stretches every token's life; more than seconds is a lifetime setting in disguise."""
    leeway = token_settings.LEEWAY
    if not isinstance(leeway, int) or not 0 <= leeway <= MAX_LEEWAY_SECONDS:
        return [Error(f"JWT leeway must be 0 to {MAX_LEEWAY_SECONDS} seconds, not {leeway!r}.", id="tokens.E007")]
    return []
