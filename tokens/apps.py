from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "tokens"
    verbose_name = "Sessions and tokens"

    def ready(self) -> None:
        from flowauth import health
        from tokens import checks, schema, signals  # noqa: F401  (registers receivers, checks, the schema extension)
        from tokens.health import redis_and_database
        from tokens.settings import token_settings

        health.register(redis_and_database)

        if token_settings.ROLE == "verifier" and token_settings.JWKS_URL and not token_settings.PUBLIC_KEYS:
            # A verifier fetches FlowAuth's JWKS once, at start-up: a bad URL fails fast.
            from tokens.jwt import get_keyset

            get_keyset()
