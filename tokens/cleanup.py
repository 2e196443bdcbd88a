"""Deleting what no verdict needs any more: expired refresh tokens, ended sessions, tombstones of deleted users."""

from dataclasses import dataclass

from django.db import transaction

from tokens.selectors import expired_rows, expired_tombstones


@dataclass(frozen=True)
class Flushed:
    refresh_tokens: int
    sessions: int
    tombstones: int


def flush_expired(*, batch_size: int = 1000) -> Flushed:
    """Delete in batches of ``batch_size``, each in its own short transaction (cron-safe, restartable)."""
    tokens, sessions = expired_rows()
    return Flushed(
        refresh_tokens=_delete(tokens, batch_size),
        sessions=_delete(sessions, batch_size),
        tombstones=_delete(expired_tombstones(), batch_size),
    )


def _delete(queryset, batch_size: int) -> int:
    removed = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:batch_size])
        if not ids:
            return removed
        with transaction.atomic():
            queryset.model.objects.filter(pk__in=ids).delete()
        removed += len(ids)
