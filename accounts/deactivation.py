"""Ending the access of users deactivated by a bulk write (QuerySet.update / bulk_update).

``save()`` ends access through tokens.signals; ``update`` and ``bulk_update``
send no signals, so UserQuerySet wraps them in ``ending_access_of_deactivated``.
"""

from contextlib import contextmanager

from django.db import transaction

from tokens.models import RevokeReason
from tokens.services import end_access_for_users


@contextmanager
def ending_access_of_deactivated(users):
    """Around a write to ``users`` (a queryset): whoever was active before and is not after loses access.

    One transaction: the write and the cut-offs land together or not at all.
    Whatever the value written (``False``, ``Value(False)``, any expression).
    """
    with transaction.atomic(using=users.db):
        were_active = list(users.filter(is_active=True).values_list("pk", flat=True))
        yield
        manager = users.model._base_manager
        deactivated = manager.filter(pk__in=were_active, is_active=False).values_list("pk", flat=True)
        end_access_for_users(list(deactivated), reason=RevokeReason.DEACTIVATION)
