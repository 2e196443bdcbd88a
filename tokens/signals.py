"""Account events that must end sessions, whoever causes them (API, admin, shell)."""

from django.conf import settings
from django.db.models.signals import pre_delete, pre_save
from django.dispatch import receiver

from tokens.models import RevokeReason


@receiver(pre_save, sender=settings.AUTH_USER_MODEL)
def _revoke_on_deactivation(sender, instance, raw=False, update_fields=None, **kwargs):
    if raw or instance.pk is None or instance.is_active:
        return
    if update_fields is not None and "is_active" not in update_fields:
        return
    was_active = sender.objects.filter(pk=instance.pk, is_active=True).exists()
    if was_active:
        from tokens.services import revoke_all_for_user

        revoke_all_for_user(instance, reason=RevokeReason.DEACTIVATION)


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL)
def _revoke_on_delete(sender, instance, **kwargs):
    from tokens.services import revoke_all_for_user

    revoke_all_for_user(instance, reason=RevokeReason.DEACTIVATION)
