from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "tokens"
    verbose_name = "Sessions and tokens"

    def ready(self) -> None:
        from tokens import signals  # noqa: F401  (connects the receivers)
