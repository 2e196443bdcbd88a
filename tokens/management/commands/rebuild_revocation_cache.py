from django.core.management.base import BaseCommand, CommandError

from flowauth.errors import RevocationStoreUnavailable
from tokens import revocation


class Command(BaseCommand):
    help = "Rewrite every live revocation from the database into Redis and mark the cache complete."

    def handle(self, *args, **options):
        try:
            written = revocation.rebuild()
        except RevocationStoreUnavailable as exc:
            raise CommandError(f"Redis unavailable or a rebuild is running: {exc}") from exc
        self.stdout.write(f"revocation cache rebuilt: {written} keys")
