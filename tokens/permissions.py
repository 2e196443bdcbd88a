"""Step-up: operations that need a recent authentication, not just a live token."""

from django.conf import settings
from django.utils import timezone
from rest_framework.permissions import BasePermission

from tokens.exceptions import ReauthRequired


def is_recent(auth_time: int | None) -> bool:
    if type(auth_time) is not int:
        return False
    return timezone.now().timestamp() - auth_time <= settings.REAUTH_MAX_AGE


class RecentAuthentication(BasePermission):
    """The access token's ``auth_time`` lies within REAUTH_MAX_AGE; otherwise 403 ``reauth_required``.

    Put after IsAuthenticated (a missing token stays 401). Refreshing does not
    help: rotation keeps the login's ``auth_time``; ``POST /api/auth/reauth`` does.
    """

    def has_permission(self, request, view) -> bool:
        if not is_recent(getattr(request.user, "auth_time", None)):
            raise ReauthRequired()
        return True
