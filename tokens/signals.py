"""Account events that must end access, whoever causes them (API, admin, shell, migrations)."""

import logging

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_migrate, pre_delete, pre_save
from django.dispatch import receiver

from tokens import django_sessions
from tokens.models import RevokeReason


@receiver(pre_save, sender=settings.AUTH_USER_MODEL)
def _revoke_on_deactivation(sender, instance, raw=False, update_fields=None, **kwargs):
    if raw or instance.pk is None or instance.is_active:
        return
    if update_fields is not None and "is_active" not in update_fields:
        return
    was_active = sender.objects.filter(pk=instance.pk, is_active=True).exists()
    if was_active:
        from tokens.services import end_access_for_users

        end_access_for_users([instance.pk], reason=RevokeReason.DEACTIVATION)


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL)
def _revoke_on_delete(sender, instance, **kwargs):
    from tokens.services import end_access_for_users

    # The cut-off outlives the user (a tombstone): a rebuild after a flush still refuses its tokens.
    end_access_for_users([instance.pk], reason=RevokeReason.DEACTIVATION, user_deleted=True)


@receiver(user_logged_in)
def _stamp_session_login(sender, request, user, **kwargs):
    django_sessions.stamp(request, user)


@receiver(post_migrate)
def _end_access_of_inactive_users(sender, app_config=None, **kwargs):
    # A data migration may deactivate users without any signal: end their access once migrations ran.
    if app_config is None or app_config.label != "tokens":
        return
    from flowauth.errors import RevocationStoreUnavailable
    from tokens.services import end_access_of_inactive_users

    try:
        end_access_of_inactive_users()
    except RevocationStoreUnavailable:
        # Rotation refuses inactive users anyway; their access tokens expire within ACCESS_TOKEN_LIFETIME.
        logging.getLogger("flowauth.revocation").warning(
            "could not end the access of inactive users after migrating: the revocation store is unavailable"
        )
