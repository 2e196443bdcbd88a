from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "tokens"
    verbose_name = "Sessions and tokens"

    def ready(self) -> None:
        from tokens import schema, signals  # noqa: F401  (registers the receivers and the schema extension)
