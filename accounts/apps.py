from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.health import cached_profiles
        from flowauth import health

        health.register(cached_profiles, order=10)  # after tokens' Redis check, whose verdict it reads
