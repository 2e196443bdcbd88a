"""The tokens app's settings object, read when used (never bound at import).

Values come from ``settings.FLOWAUTH_TOKENS``; lifetimes are seconds. Each
value is read once and kept until ``FLOWAUTH_TOKENS`` changes (Django's
``setting_changed`` signal, which ``override_settings`` and pytest-django's
``settings`` fixture send), as simplejwt's ``api_settings`` does: the
request path reads a dozen of them. A value once read is an attribute of the
object, so later reads are plain attribute reads (``__getattr__`` runs only
for a value not read yet).
"""

from datetime import timedelta

from django.conf import settings
from django.core.signals import setting_changed

DEFAULTS = {
    "ACCESS_TOKEN_LIFETIME": 900,
    "REFRESH_TOKEN_LIFETIME": 1_209_600,
    "SESSION_MAX_AGE": 7_776_000,
    "REFRESH_GRACE_SECONDS": 10,
    "REVOCATION_FAILURE_MODE": "closed",
    # Clock skew allowed when checking exp/nbf/iat, and added to revocation TTLs.
    "LEEWAY": 0,
    # Extra seconds a revocation key outlives the last token it refuses.
    "REVOCATION_TTL_MARGIN": 5,
    # Longer tokens are refused before any decoding work.
    "MAX_TOKEN_BYTES": 4096,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": "",
    "VERIFYING_KEY": "",
    "AUDIENCE": None,
    "ISSUER": None,
    "REDIS_URL": "",
    "REDIS_SOCKET_TIMEOUT": 1.0,
    # Seconds between re-reads of the Redis server's state (run_id, evictions, policy)
    # on open connections; new connections, rebuilds and health checks read it at once.
    "SERVER_STATE_MAX_AGE": 5,
    # Asymmetric signing (RS256, ES256, EdDSA): see tokens/keys.py.
    "PRIVATE_KEY": "",  # PEM; only the issuer has it
    "PUBLIC_KEYS": {},  # {"kid": "PEM" or JWK dict}, or a JWKS document; the signer's own key is added
    "SIGNING_KID": "",  # default: the RFC 7638 thumbprint of the signing key
    "JWKS_URL": "",  # verifiers only: fetched once, https only, when PUBLIC_KEYS is empty
    "JWKS_MAX_AGE": 300,  # Cache-Control max-age of /.well-known/jwks.json
    # "issuer" (FlowAuth, owns the database) or "verifier" (a sibling service:
    # no database; an incomplete revocation cache answers 503 instead of rebuilding).
    "ROLE": "issuer",
    # The local verdict cache (tokens/local_cache.py, docs/revocation-fast-path.md).
    "REVOCATION_LOCAL_CACHE": True,
    "REVOCATION_STRICT": False,  # on: writers wait until every live reader acknowledged their write
    "REVOCATION_LEASE": 0.5,  # seconds a PONG keeps the map trusted
    "REVOCATION_HEARTBEAT": 0.1,  # seconds between PINGs on the tracking connection
    "REVOCATION_LOCAL_CACHE_MAX_AGE": 1.0,  # seconds one verdict is kept
    # DPoP (RFC 9449, tokens/dpop.py): proofs older than this many seconds are refused;
    # ones from the future only within the skew. Nonces rotate every DPOP_NONCE_LIFETIME seconds.
    "DPOP_PROOF_MAX_AGE": 60,
    "DPOP_PROOF_FUTURE_SKEW": 5,
    "DPOP_MAX_PROOF_BYTES": 4096,
    "DPOP_NONCE": False,
    "DPOP_NONCE_LIFETIME": 300,
    "DPOP_REQUIRED": False,
}

_DURATIONS = {"ACCESS_TOKEN_LIFETIME", "REFRESH_TOKEN_LIFETIME", "SESSION_MAX_AGE", "REFRESH_GRACE_SECONDS"}


class TokenSettings:
    def __init__(self) -> None:
        self._derived: dict = {}

    def __getattr__(self, name: str):
        if name not in DEFAULTS:
            raise AttributeError(name)
        value = getattr(settings, "FLOWAUTH_TOKENS", {}).get(name, DEFAULTS[name])
        if name in _DURATIONS and not isinstance(value, timedelta):
            value = timedelta(seconds=value)
        self.__dict__[name] = value  # the next read finds it without calling __getattr__
        return value

    def derived(self, key: str, build):
        """An object built from these settings (the signing backend), rebuilt once they change."""
        try:
            return self._derived[key]
        except KeyError:
            value = self._derived[key] = build()
            return value

    def reload(self) -> None:
        for name in DEFAULTS:
            self.__dict__.pop(name, None)
        self._derived = {}


token_settings = TokenSettings()


def _reload(*, setting: str, **kwargs) -> None:
    if setting == "FLOWAUTH_TOKENS":
        token_settings.reload()


setting_changed.connect(_reload)
