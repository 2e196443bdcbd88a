from django.core.management.base import BaseCommand
from django.db import transaction

from tokens.selectors import expired_rows, expired_tombstones


class Command(BaseCommand):
    help = "Delete expired refresh tokens and ended sessions no longer needed, in batches (cron-safe)."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args, batch_size: int, **options):
        tokens, sessions = expired_rows()
        removed_tokens = self._delete(tokens, batch_size)
        removed_sessions = self._delete(sessions, batch_size)
        removed_tombstones = self._delete(expired_tombstones(), batch_size)
        self.stdout.write(f"removed {removed_tokens} refresh tokens, {removed_sessions} sessions "
                          f"and {removed_tombstones} cut-offs of deleted users")

    @staticmethod
    def _delete(queryset, batch_size: int) -> int:
        removed = 0
        while True:
            ids = list(queryset.values_list("pk", flat=True)[:batch_size])
            if not ids:
                return removed
            with transaction.atomic():
                deleted, _ = queryset.model.objects.filter(pk__in=ids).delete()
            removed += len(ids)
