from django.core.management.base import BaseCommand

from tokens.cleanup import flush_expired


class Command(BaseCommand):
    help = "Delete expired refresh tokens and ended sessions no longer needed, in batches (cron-safe)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args, batch_size: int, **options):
        flushed = flush_expired(batch_size=batch_size)
        self.stdout.write(
            f"removed {flushed.refresh_tokens} refresh tokens, {flushed.sessions} sessions "
            f"and {flushed.tombstones} cut-offs of deleted users"
        )
